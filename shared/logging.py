"""Structured JSON logs with the request's context bound once and carried everywhere.

Bind ``request_id``, ``trace_id``, ``tenant_id`` and ``principal_id`` with
:func:`bind_context`; every log line in that task carries them. Never log content.
"""

from __future__ import annotations

import logging
import secrets
import sys
from typing import Any

import structlog

__all__ = [
    "bind_context",
    "clear_context",
    "configure_logging",
    "current_traceparent",
    "get_logger",
    "trace_id_of",
]

_configured = False


def configure_logging(level: str = "info", *, stream: Any = None) -> None:
    """Route structlog and stdlib logging to one JSON stream (idempotent)."""
    global _configured
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    if not _configured:
        logging.basicConfig(level=logging.WARNING, stream=stream or sys.stderr)
        # Request lines of our own HTTP clients would repeat URLs at INFO; keep warnings only.
        for noisy in ("httpx", "httpcore", "httpx2"):  # httpx2: authlib's client
            logging.getLogger(noisy).setLevel(logging.WARNING)
        _configured = True


def get_logger(name: str) -> Any:
    """A structlog logger named after its module."""
    return structlog.get_logger(name)


def bind_context(**values: object) -> None:
    """Bind values (ids only, never content) to every log line of the current task."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()


def current_traceparent() -> str | None:
    """A W3C ``traceparent`` continuing the trace bound to this task, for events it emits."""
    trace_id = structlog.contextvars.get_contextvars().get("trace_id")
    if not isinstance(trace_id, str) or len(trace_id) != 32:
        return None
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id inside a ``traceparent``, or None when it is malformed."""
    parts = (traceparent or "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32 and all(c in "0123456789abcdef" for c in parts[1]):
        return parts[1]
    return None
