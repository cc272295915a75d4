"""Per-request context: request id, trace id, an access log line and Prometheus metrics."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from shared.asgi import ASGIApp, Message, Receive, Scope, Send
from shared.logging import bind_context, clear_context, get_logger

__all__ = ["HttpMetrics", "RequestContextMiddleware"]

log = get_logger("tila.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


class HttpMetrics:
    """The HTTP metrics of one service, in a registry of its own."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tila_http_requests",
            "HTTP requests handled",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "tila_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["service", "method", "route"],
            registry=self.registry,
        )
        self.service = service


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Outermost middleware: binds ids for the logs, answers with ``X-Request-Id``, measures."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else str(uuid.uuid4())
        traceparent = _header(scope, b"traceparent")
        match = _TRACEPARENT.match(traceparent or "")
        trace_id = match.group(1) if match else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["trace_id"] = trace_id
        clear_context()
        bind_context(request_id=request_id, trace_id=trace_id, service=self.metrics.service)
        status = 500
        started = time.perf_counter()
        # What a caller with credentials gets is theirs alone: no browser or proxy keeps a copy
        # (supervision content on a shared ward PC, ASVS 14.3.2).
        private = _header(scope, b"authorization") is not None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if private and not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(self.metrics.service, method, route, str(status)).inc()
            self.metrics.duration.labels(self.metrics.service, method, route).observe(elapsed)
            # The route template, never the raw path or query: those could carry data.
            log.info("request", method=method, route=route, status=status, ms=round(elapsed * 1000, 2))
            clear_context()
