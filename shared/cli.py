"""What every ``tila`` command shares: the refusal, a command's entry and the local stack's settings.

Each service contributes its own commands (``services/<name>/cli.py``, a ``commands()`` returning
:class:`Command` entries); ``tila/cli.py`` assembles them with the platform's own. The helpers
here read the same settings as ``tila run``: ``TILA_DATA_DIR``, ``TILA_PG_ADMIN_URL``,
``TILA_PG_PORT`` and ``TILA_PG_ROLE_SECRET``, overridden by ``--data-dir`` and ``--pg-port``.
"""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

__all__ = ["CliError", "Command", "base_url", "data_dir", "pg_address", "reason", "role_secret", "say"]

REPO = Path(__file__).resolve().parents[1]


class CliError(Exception):
    """A refusal the user can act on: printed as one line, exit code 1."""


@dataclass(frozen=True)
class Command:
    """One ``tila`` sub-command: its name, its one-line help, its own options and what it runs."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("TILA_DATA_DIR") or REPO / ".data").resolve()


def pg_address(args: argparse.Namespace) -> tuple[str, int]:
    """Where the local stack's PostgreSQL listens: ``--pg-port``, else ``TILA_PG_ADMIN_URL``'s host
    and port, else 127.0.0.1 and ``TILA_PG_PORT`` (55432) — as ``tila run`` chooses."""
    if args.pg_port is not None:
        return "127.0.0.1", int(args.pg_port)
    if admin := os.environ.get("TILA_PG_ADMIN_URL"):
        parts = urlsplit(admin)
        return parts.hostname or "127.0.0.1", parts.port or 5432
    return "127.0.0.1", int(os.environ.get("TILA_PG_PORT") or "55432")


def role_secret(data: Path) -> str:
    """The secret the service roles' passwords derive from: TILA_PG_ROLE_SECRET, or one kept
    (owner-only) in the data folder."""
    if configured := os.environ.get("TILA_PG_ROLE_SECRET"):
        return configured
    path = data / "role-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if isinstance(exc, ConnectionRefusedError) or "refused" in text:
        return "connection refused"
    if isinstance(exc, TimeoutError | httpx.TimeoutException) or "timed out" in text:
        return "timed out"
    return type(exc).__name__


def base_url(host: str, port: int) -> str:
    return f"http://{host}:{port}"


def say(text: str) -> None:
    print(text, flush=True)
