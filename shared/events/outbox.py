"""The transactional outbox and its relay.

A handler calls :func:`add_to_outbox` inside the transaction that changes its rows, so an
event exists exactly when the change does. :class:`OutboxRelay` publishes committed rows to
JetStream with ``Nats-Msg-Id`` set to the event id and marks them published; a crash
between the two republishes, and the stream's duplicate window (then the consumers'
inbox) drops the second copy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from nats.aio.client import Client as NATS

from shared.events.envelope import Envelope, encode_envelope
from shared.logging import get_logger

__all__ = ["OutboxRelay", "add_to_outbox", "outbox_channel"]

log = get_logger(__name__)

AfterPublish = Callable[[Sequence[asyncpg.Record]], Awaitable[None]]


def outbox_channel(service: str) -> str:
    return f"outbox_{service}"


async def add_to_outbox(conn: asyncpg.Connection, service: str, *envelopes: Envelope) -> None:
    """Write events in the caller's transaction and wake the relay when it commits."""
    if not conn.is_in_transaction():
        raise RuntimeError("add_to_outbox must run inside the transaction that makes the change")
    await conn.executemany(
        "insert into outbox (id, tenant_id, subject, payload) values ($1, $2, $3, $4)",
        [(e.id, e.tenant_ids[0], e.type, encode_envelope(e)) for e in envelopes],
    )
    # NOTIFY is delivered only on commit, so it is a safe wake-up hint, never a source of truth.
    await conn.execute("select pg_notify($1, '')", outbox_channel(service))


class OutboxRelay:
    """Publishes one service's outbox. Many may run; one holds the lock and works.

    Runs on a dedicated connection (not pooled: a pool's reset would drop both the LISTEN
    and the session advisory lock).
    """

    def __init__(
        self,
        *,
        service: str,
        dsn: str,
        nats: NATS,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        publish_timeout: float = 10.0,
        after_publish: AfterPublish | None = None,
    ) -> None:
        self.service = service
        self.dsn = dsn
        self.nats = nats
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        self.published = 0
        self.is_leader = False
        self._after_publish = after_publish
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Loop until cancelled; survives database and NATS outages by reconnecting."""
        delay = 0.2
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox_relay_error", service=self.service, error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                delay = 0.2

    async def _run_once(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self.dsn)
        try:
            while not await conn.fetchval(
                "select pg_try_advisory_lock(hashtext($1))", f"tila:outbox-relay:{self.service}"
            ):
                await asyncio.sleep(self.poll_interval)
            self.is_leader = True
            log.info("outbox_relay_leading", service=self.service)
            await conn.add_listener(outbox_channel(self.service), self._on_notify)
            while True:
                while await self.publish_batch(conn):
                    pass
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def publish_batch(self, conn: asyncpg.Connection) -> int:
        """Publish up to one batch in commit order; return how many were published."""
        js = self.nats.jetstream()
        async with conn.transaction():
            rows = await conn.fetch(
                """
                select id, subject, payload from outbox
                where published_at is null
                order by created_at, id
                limit $1
                for update skip locked
                """,
                self.batch_size,
            )
            if not rows:
                return 0
            futures = [
                await js.publish_async(
                    r["subject"], bytes(r["payload"]), headers={"Nats-Msg-Id": str(r["id"])}
                )
                for r in rows
            ]
            await asyncio.wait_for(asyncio.gather(*futures), self.publish_timeout)
            if self._after_publish is not None:
                await self._after_publish(rows)
            await conn.execute(
                "update outbox set published_at = now(), attempts = attempts + 1 where id = any($1::uuid[])",
                [r["id"] for r in rows],
            )
        self.published += len(rows)
        return len(rows)


async def prune_published(conn: asyncpg.Connection, *, older_than_days: int = 7) -> int:
    """Delete rows published long ago (run daily by the relay's owner)."""
    result: str = await conn.execute(
        "delete from outbox where published_at < now() - make_interval(days => $1)", older_than_days
    )
    return int(result.split()[-1])
