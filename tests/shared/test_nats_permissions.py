"""Least-privilege NATS users: each service reaches its own events and consumers, nothing else."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client as NATS
from nats.js.errors import APIError

from shared.embedded import EmbeddedNats
from shared.embedded.nats import find_nats_server
from shared.events import ConsumerSpec, ensure_consumer, ensure_stream
from shared.events.nats import inbox_prefix
from shared.events.permissions import render_authorization, service_permissions
from shared.events.streams import STREAMS
from shared.testing.plugin import Stack, free_port
from tila.composition import SERVICES, nats_authorization

ORDERS_READS = ConsumerSpec(consumer="orders", producer="organisations")
PASSWORDS = {"organisations": secrets.token_hex(8), "orders": secrets.token_hex(8)}


@pytest.fixture(scope="module")
def server(stack: Stack) -> Iterator[EmbeddedNats]:
    root = stack.root / "nats-permissions"
    root.mkdir()
    users = {
        "organisations": service_permissions("organisations", publishes=True, consumers=()),
        "orders": service_permissions("orders", publishes=True, consumers=[ORDERS_READS]),
    }
    config = root / "server.conf"
    config.write_text("jetstream {}\n" + render_authorization(users, password_variable="NATS_PASSWORD"))
    env = {f"NATS_PASSWORD_{user.upper()}": password for user, password in PASSWORDS.items()}
    running = EmbeddedNats(root, free_port(), config=config, env=env)
    running.start()
    yield running
    running.stop()


async def _connect(server: EmbeddedNats, user: str) -> NATS:
    return await nats.connect(
        f"nats://{user}:{PASSWORDS[user]}@127.0.0.1:{server.port}",
        inbox_prefix=inbox_prefix(user),
        allow_reconnect=False,
    )


@pytest_asyncio.fixture(scope="module")
async def clients(server: EmbeddedNats) -> AsyncIterator[dict[str, NATS]]:
    connected = {user: await _connect(server, user) for user in PASSWORDS}
    yield connected
    for client in connected.values():
        await client.close()


async def test_a_service_publishes_its_events_and_another_consumes_them(clients: dict[str, NATS]) -> None:
    producer = clients["organisations"].jetstream(timeout=2)
    await ensure_stream(producer, STREAMS["organisations"])
    ack = await producer.publish("organisations.tenant.created.v1", b"{}", headers={"Nats-Msg-Id": "p-1"})
    assert ack.stream == "ORGANISATIONS"
    consumer = clients["orders"].jetstream(timeout=2)
    spec = ORDERS_READS
    await ensure_consumer(consumer, spec)
    subscription = await consumer.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
    [message] = await subscription.fetch(1, timeout=2)
    assert message.subject == "organisations.tenant.created.v1"
    await message.ack()


async def test_a_service_cannot_publish_another_services_events(clients: dict[str, NATS]) -> None:
    impostor = clients["orders"].jetstream(timeout=1)
    with pytest.raises((TimeoutError, APIError)):
        await impostor.publish("organisations.tenant.created.v1", b"{}")


async def test_a_service_cannot_delete_or_purge_another_services_stream(clients: dict[str, NATS]) -> None:
    await ensure_stream(clients["organisations"].jetstream(timeout=2), STREAMS["organisations"])
    vandal = clients["orders"].jetstream(timeout=1)
    with pytest.raises((TimeoutError, APIError)):
        await vandal.delete_stream("ORGANISATIONS")
    with pytest.raises((TimeoutError, APIError)):
        await vandal.purge_stream("ORGANISATIONS")
    assert (await clients["organisations"].jetstream(timeout=2).stream_info("ORGANISATIONS")).config.name


async def test_a_service_cannot_read_through_another_services_consumer(clients: dict[str, NATS]) -> None:
    await ensure_stream(clients["organisations"].jetstream(timeout=2), STREAMS["organisations"])
    spy = clients["orders"].jetstream(timeout=1)
    with pytest.raises((TimeoutError, APIError)):
        await ensure_consumer(spy, ConsumerSpec(consumer="billing", producer="organisations"))


def test_the_committed_production_users_match_the_services_declarations() -> None:
    committed = (Path(__file__).parents[2] / "deploy" / "nats" / "authorization.conf").read_text()
    assert committed == nats_authorization(), (
        "run: .venv/bin/tila nats-authorization > deploy/nats/authorization.conf"
    )


def test_the_production_nats_configuration_is_valid() -> None:
    conf = Path(__file__).parents[2] / "deploy" / "nats" / "nats-server.conf"
    env = {"NATS_SERVER_NAME": "nats-0"} | {f"NATS_PASSWORD_{s.upper()}": "x" for s in SERVICES}
    result = subprocess.run(
        [find_nats_server(), "-c", str(conf), "-t"], capture_output=True, text=True, env={**os.environ, **env}
    )
    assert result.returncode == 0, result.stdout + result.stderr
