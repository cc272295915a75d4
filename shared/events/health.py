"""A worker's health and metrics over HTTP, for the orchestrator's probes and for Prometheus.

A tiny HTTP/1.1 responder on asyncio streams (a worker has no web framework of its own):

- ``GET /live``: 200 while the event loop answers and none of the workers' tasks has ended;
  503 once one has (a relay or consumer loop only ends when something is badly wrong — restart).
- ``GET /ready``: 200 when every worker has started, its database answers, its NATS connection
  is up with JetStream reachable, and all its tasks run; 503 with the reasons otherwise.
- ``GET /metrics``: Prometheus text — per consumer applied / duplicates / dead-lettered, the
  relay's published count and leadership, each periodic job's passes and failed passes, and
  whether each task (relay, consumer, job) is running.

``worker_health_port`` (``TILA_WORKER_HEALTH_PORT`` or ``TILA_<SVC>_WORKER_HEALTH_PORT``) turns it
on; 0 (the default) leaves it off. Workers of one process that share a port share one server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.events.worker import PeriodicJob, Worker
from shared.logging import get_logger

__all__ = ["WorkerHealthServer", "check_live", "check_ready", "start_health_servers"]

log = get_logger(__name__)

_CHECK_TIMEOUT = 2.0
_REQUEST_TIMEOUT = 5.0
_MAX_HEADER_LINES = 100


def _dead_tasks(worker: Worker) -> list[str]:
    return [task.get_name() for task in worker.tasks if task.done()]


def check_live(workers: Sequence[Worker]) -> dict[str, str]:
    """Problems that call for a restart: a worker task that ended (crashed or was cancelled)."""
    problems = {}
    for worker in workers:
        if dead := _dead_tasks(worker):
            problems[worker.settings.service] = "task ended: " + ", ".join(dead)
    return problems


async def _check_database(worker: Worker) -> str | None:
    if worker.pool is None:
        return "database: not started"
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT):
            await worker.pool.fetchval("select 1")
    except Exception as exc:
        return f"database: unreachable ({type(exc).__name__})"
    return None


async def _check_nats(worker: Worker) -> str | None:
    nc = worker.nats
    if nc is None:
        return "nats: not started"
    if not nc.is_connected:
        return "nats: not connected"
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT):
            await nc.jetstream().account_info()
    except Exception as exc:
        return f"nats: JetStream unavailable ({type(exc).__name__})"
    return None


async def check_ready(workers: Sequence[Worker]) -> dict[str, str]:
    """Problems that make a worker unable to do its work now: per service, the reasons."""
    problems: dict[str, str] = {}
    for worker in workers:
        reasons: list[str] = []
        if not worker.tasks:
            reasons.append("not started")
        else:
            if dead := _dead_tasks(worker):
                reasons.append("task ended: " + ", ".join(dead))
            for check in (_check_database, _check_nats):
                if (reason := await check(worker)) is not None:
                    reasons.append(reason)
        if reasons:
            problems[worker.settings.service] = "; ".join(reasons)
    return problems


class _WorkerCollector(Collector):
    """Reads the workers' counters at scrape time (they are plain ints on the relay and consumers)."""

    def __init__(self, workers: Sequence[Worker]) -> None:
        self.workers = workers

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        labels = ["service", "consumer"]
        applied = CounterMetricFamily(
            "tila_worker_events_applied", "Events applied by a consumer", labels=labels
        )
        duplicates = CounterMetricFamily(
            "tila_worker_events_duplicate", "Redelivered events a consumer had already applied", labels=labels
        )
        dead = CounterMetricFamily(
            "tila_worker_events_dead_lettered", "Events a consumer gave up on (dead letters)", labels=labels
        )
        published = CounterMetricFamily(
            "tila_worker_outbox_published", "Outbox events the relay published", labels=["service"]
        )
        leader = GaugeMetricFamily(
            "tila_worker_outbox_relay_leader",
            "1 when this process's relay holds the outbox lock",
            labels=["service"],
        )
        job_labels = ["service", "job"]
        passes = CounterMetricFamily(
            "tila_worker_job_passes", "Passes a periodic job made", labels=job_labels
        )
        failures = CounterMetricFamily(
            "tila_worker_job_failures", "Passes of a periodic job that failed", labels=job_labels
        )
        up = GaugeMetricFamily(
            "tila_worker_task_up", "1 while a worker task runs", labels=["service", "task"]
        )
        for worker in self.workers:
            service = worker.settings.service
            for consumer in worker.consumers:
                durable = consumer.spec.durable
                applied.add_metric([service, durable], consumer.applied)
                duplicates.add_metric([service, durable], consumer.duplicates)
                dead.add_metric([service, durable], consumer.dead_lettered)
            if worker.relay is not None:
                published.add_metric([service], worker.relay.published)
                leader.add_metric([service], 1 if worker.relay.is_leader else 0)
            for job in worker.jobs:
                if isinstance(job, PeriodicJob):
                    passes.add_metric([service, job.name], job.passes)
                    failures.add_metric([service, job.name], job.failures)
            for task in worker.tasks:
                up.add_metric([service, task.get_name()], 0 if task.done() else 1)
        yield from (applied, duplicates, dead, published, leader, passes, failures, up)


class WorkerHealthServer:
    """Serves ``/live``, ``/ready`` and ``/metrics`` for ``workers`` on ``host:port``.

    ``port=0`` here binds an ephemeral port (tests); read :attr:`port` after :meth:`start`.
    ``host=None`` listens on every interface (the pod's address, where the kubelet probes).
    """

    def __init__(self, workers: Sequence[Worker], *, port: int, host: str | None = None) -> None:
        self.workers = list(workers)
        self.host = host
        self.port = port
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_WorkerCollector(self.workers))
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        services = [w.settings.service for w in self.workers]
        log.info("worker_health_listening", port=self.port, services=services)
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
                status, content_type, body = await self._answer(method, path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, ValueError, ConnectionError, asyncio.IncompleteReadError):
            pass  # a half-open probe or garbage: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"method not allowed\n"
        path = path.split("?", 1)[0]
        if path == "/live":
            return _status(check_live(self.workers))
        if path == "/ready":
            return _status(await check_ready(self.workers))
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.registry)
        return "404 Not Found", "text/plain", b"not found\n"


def _status(problems: dict[str, str]) -> tuple[str, str, bytes]:
    if problems:
        body = {"status": "unavailable", "problems": problems}
        return "503 Service Unavailable", "application/json", json.dumps(body).encode()
    return "200 OK", "application/json", b'{"status":"ok"}'


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
    line = (await reader.readuntil(b"\r\n")).decode("latin-1").rstrip("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError("not an HTTP request line")
    for _ in range(_MAX_HEADER_LINES):  # the headers are not needed; read past them
        if await reader.readuntil(b"\r\n") == b"\r\n":
            return parts[0], parts[1]
    raise ValueError("too many header lines")


async def start_health_servers(
    workers: Iterable[Worker], *, port: int | None = None
) -> list[WorkerHealthServer]:
    """One server per configured port (``port`` overrides each worker's ``worker_health_port``);
    workers on port 0 get none."""
    by_port: dict[int, list[Worker]] = {}
    for worker in workers:
        chosen = worker.settings.worker_health_port if port is None else port
        if chosen:
            by_port.setdefault(chosen, []).append(worker)
    servers = []
    try:
        for chosen, group in by_port.items():
            server = WorkerHealthServer(group, port=chosen)
            await server.start()
            servers.append(server)
    except BaseException:
        for server in servers:
            await server.close()
        raise
    return servers
