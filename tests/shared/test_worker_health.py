"""A worker's /live, /ready and /metrics, served for the orchestrator's probes, against a real
worker on the test PostgreSQL and NATS JetStream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import msgspec
import pytest

from shared.config import ServiceSettings, SettingsError, load_settings
from shared.embedded.nats import EmbeddedNats
from shared.embedded.servers import free_port
from shared.events.health import WorkerHealthServer, start_health_servers
from shared.events.worker import Worker
from tila.composition import create_service_worker


@contextlib.asynccontextmanager
async def serving(worker: Worker) -> AsyncIterator[httpx.AsyncClient]:
    """The worker started (its tasks running) and its health server on an ephemeral port."""
    server = WorkerHealthServer([worker], port=0, host="127.0.0.1")
    await server.start()
    try:
        await worker.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            yield client
    finally:
        for task in worker.tasks:
            task.cancel()
        await asyncio.gather(*worker.tasks, return_exceptions=True)
        await worker.close()
        await server.close()


async def test_a_running_worker_is_live_and_ready(settings_for: Callable[[str], ServiceSettings]) -> None:
    async with serving(create_service_worker("orders", settings_for("orders"))) as client:
        live = await client.get("/live")
        ready = await client.get("/ready")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok"}
    assert ready.headers["cache-control"] == "no-store"


async def test_a_worker_that_has_not_started_is_live_but_not_ready(
    settings_for: Callable[[str], ServiceSettings],
) -> None:
    worker = create_service_worker("orders", settings_for("orders"))
    server = WorkerHealthServer([worker], port=0, host="127.0.0.1")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            live = await client.get("/live")
            ready = await client.get("/ready")
    finally:
        await server.close()
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["problems"] == {"orders": "not started"}


async def test_readiness_fails_once_nats_goes_away_and_liveness_holds(
    settings_for: Callable[[str], ServiceSettings], nats_server_factory: Callable[[], EmbeddedNats]
) -> None:
    nats_server = nats_server_factory()
    settings = msgspec.structs.replace(settings_for("organisations"), nats_url=nats_server.url)
    async with serving(create_service_worker("organisations", settings)) as client:
        assert (await client.get("/ready")).status_code == 200
        nats_server.stop()
        async with asyncio.timeout(10):
            while (ready := await client.get("/ready")).status_code == 200:
                await asyncio.sleep(0.1)
        live = await client.get("/live")
    assert ready.status_code == 503
    problem = ready.json()["problems"]["organisations"]
    assert "nats" in problem
    assert "database" not in problem
    # NATS coming back is the client's job (it reconnects): no restart, so liveness stays 200.
    assert live.status_code == 200


async def test_a_dead_consumer_task_fails_liveness_and_readiness(
    settings_for: Callable[[str], ServiceSettings],
) -> None:
    worker = create_service_worker("orders", settings_for("orders"))
    async with serving(worker) as client:
        victim = worker.tasks[-1]
        victim.cancel()
        await asyncio.gather(victim, return_exceptions=True)
        live = await client.get("/live")
        ready = await client.get("/ready")
        metrics = await client.get("/metrics")
    assert live.status_code == 503
    assert victim.get_name() in live.json()["problems"]["orders"]
    assert ready.status_code == 503
    assert victim.get_name() in ready.json()["problems"]["orders"]
    assert f'tila_worker_task_up{{service="orders",task="{victim.get_name()}"}} 0.0' in metrics.text
    assert 'tila_worker_task_up{service="orders",task="orders-relay"} 1.0' in metrics.text


async def test_metrics_count_each_consumer_and_the_relay(
    settings_for: Callable[[str], ServiceSettings],
) -> None:
    worker = create_service_worker("orders", settings_for("orders"))
    async with serving(worker) as client:
        response = await client.get("/metrics")
        assert worker.relay is not None
        published = worker.relay.published
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert worker.consumers, "the orders worker consumes other services' events"
    for consumer in worker.consumers:
        labels = f'{{consumer="{consumer.spec.durable}",service="orders"}}'
        for name, value in (
            ("tila_worker_events_applied_total", consumer.applied),
            ("tila_worker_events_duplicate_total", consumer.duplicates),
            ("tila_worker_events_dead_lettered_total", consumer.dead_lettered),
        ):
            assert f"{name}{labels} {float(value)}" in text
    assert f'tila_worker_outbox_published_total{{service="orders"}} {float(published)}' in text


async def test_unknown_paths_and_methods_are_refused(settings_for: Callable[[str], ServiceSettings]) -> None:
    async with serving(create_service_worker("orders", settings_for("orders"))) as client:
        assert (await client.get("/nope")).status_code == 404
        assert (await client.post("/live")).status_code == 405
        assert (await client.head("/live")).status_code == 200


async def test_garbage_on_the_health_port_does_not_stop_it(
    settings_for: Callable[[str], ServiceSettings],
) -> None:
    async with serving(create_service_worker("orders", settings_for("orders"))) as client:
        port = int(str(client.base_url).rsplit(":", 1)[1].rstrip("/"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x00\x01 not http\r\n\r\n")
        await writer.drain()
        assert await reader.read() == b""
        writer.close()
        assert (await client.get("/live")).status_code == 200


async def test_the_port_setting_turns_the_server_on_and_zero_leaves_it_off(
    settings_for: Callable[[str], ServiceSettings],
) -> None:
    port = free_port()
    env = {"TILA_ORDERS_DATABASE_URL": "postgresql://x/y", "TILA_ORDERS_WORKER_HEALTH_PORT": str(port)}
    assert load_settings("orders", env).worker_health_port == port
    assert load_settings("billing", {"TILA_BILLING_DATABASE_URL": "postgresql://x/y"}).worker_health_port == 0
    with_port = msgspec.structs.replace(settings_for("orders"), worker_health_port=port)
    on = create_service_worker("orders", with_port)
    off = create_service_worker("billing", settings_for("billing"))
    servers = await start_health_servers([on, off])
    try:
        assert [(s.port, [w.settings.service for w in s.workers]) for s in servers] == [(port, ["orders"])]
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/live")).status_code == 200
    finally:
        for server in servers:
            await server.close()


def test_a_health_port_outside_the_tcp_range_is_refused() -> None:
    with pytest.raises(SettingsError):
        load_settings(
            "orders", {"TILA_ORDERS_DATABASE_URL": "postgresql://x/y", "TILA_WORKER_HEALTH_PORT": "70000"}
        )


async def test_a_workers_jobs_are_watched_and_counted_like_its_consumers(
    settings_for: Callable[[str], ServiceSettings],
) -> None:
    worker = create_service_worker("sessions", settings_for("sessions"))
    assert [job.name for job in worker.jobs] == ["sessions-retention"]
    async with serving(worker) as client:
        job_task = next(t for t in worker.tasks if t.get_name() == "sessions-retention")
        metrics = await client.get("/metrics")
        job_task.cancel()
        await asyncio.gather(job_task, return_exceptions=True)
        live = await client.get("/live")
    labels = '{job="sessions-retention",service="sessions"}'
    assert f"tila_worker_job_passes_total{labels}" in metrics.text
    assert f"tila_worker_job_failures_total{labels}" in metrics.text
    assert 'tila_worker_task_up{service="sessions",task="sessions-retention"} 1.0' in metrics.text
    assert live.status_code == 503
    assert "sessions-retention" in live.json()["problems"]["sessions"]
