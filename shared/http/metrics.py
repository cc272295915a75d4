"""An API process's Prometheus metrics on a port of their own, never through the ingress.

The public app has no ``/metrics`` route: the ingress routes ``/<service>/…`` of the API port to
anyone on the internet, and request counts by route and status are nobody's business there.
``metrics_port`` (``TILA_METRICS_PORT`` or ``TILA_<SVC>_METRICS_PORT``; 0, the default, is off)
makes the app serve ``GET /metrics`` on that port, on every interface, next to the API port; the
Kubernetes Service exposes only the API port, so only a scraper inside the cluster reaches it.

The apps of one process that name the same port (``tila run`` serves all five in one process)
share one server, which answers with all their metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from shared.logging import get_logger

__all__ = ["MetricsServer", "attach_metrics", "detach_metrics"]

log = get_logger(__name__)

_REQUEST_TIMEOUT = 5.0
_MAX_HEADER_LINES = 100


class _Merged(Collector):
    """The metrics of several registries as one exposition (a family's samples joined)."""

    def __init__(self, registries: list[CollectorRegistry]) -> None:
        self.registries = registries

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for registry in list(self.registries):
            for family in registry.collect():
                if (seen := families.get(family.name)) is None:
                    families[family.name] = family
                else:
                    seen.samples.extend(family.samples)
        yield from families.values()


class MetricsServer:
    """Serves ``GET /metrics`` of ``registries`` on ``host:port`` (``port=0``: an ephemeral one)."""

    def __init__(self, *, port: int, host: str | None = None) -> None:
        self.host = host
        self.port = port
        self.registries: list[CollectorRegistry] = []
        self._exposed = CollectorRegistry(auto_describe=False)
        self._exposed.register(_Merged(self.registries))
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics_listening", port=self.port)
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_REQUEST_TIMEOUT):
                method, path = await _read_request(reader)
            if method not in ("GET", "HEAD"):
                status, media, body = "405 Method Not Allowed", "text/plain", b"method not allowed\n"
            elif path.split("?", 1)[0] == "/metrics":
                status, media, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._exposed)
            else:
                status, media, body = "404 Not Found", "text/plain", b"not found\n"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {media}\r\nContent-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, ValueError, ConnectionError, asyncio.IncompleteReadError):
            pass  # a half-open scrape or garbage: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
    parts = (await reader.readuntil(b"\r\n")).decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError("not an HTTP request line")
    for _ in range(_MAX_HEADER_LINES):
        if await reader.readuntil(b"\r\n") == b"\r\n":
            return parts[0], parts[1]
    raise ValueError("too many header lines")


_SERVERS: dict[int, MetricsServer] = {}


async def attach_metrics(port: int, registry: CollectorRegistry, host: str = "") -> MetricsServer | None:
    """Serve ``registry`` on ``port``, sharing the process's server there if one runs.

    A port another process holds (granian with several workers) is logged and skipped: the API
    still serves.
    """
    server = _SERVERS.get(port)
    if server is None:
        server = MetricsServer(port=port, host=host or None)
        try:
            await server.start()
        except OSError as exc:
            log.warning("metrics_port_unavailable", port=port, error_type=type(exc).__name__)
            return None
        _SERVERS[port] = server
    server.registries.append(registry)
    return server


async def detach_metrics(port: int, registry: CollectorRegistry) -> None:
    server = _SERVERS.get(port)
    if server is None:
        return
    with contextlib.suppress(ValueError):
        server.registries.remove(registry)
    if not server.registries:
        del _SERVERS[port]
        await server.close()
