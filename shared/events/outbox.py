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
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS

from shared.events.envelope import Envelope, encode_envelope
from shared.logging import get_logger

__all__ = ["OutboxRelay", "add_to_outbox", "outbox_channel", "prune_published"]

log = get_logger(__name__)

AfterPublish = Callable[[Sequence[asyncpg.Record]], Awaitable[None]]

_INFRASTRUCTURE_ERRORS = (
    TimeoutError,
    ConnectionError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.TooManyStalledMsgsError,
)


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
        max_failed_attempts: int = 10,
        prune_interval: float = 3600.0,
        keep_published_days: int = 7,
        after_publish: AfterPublish | None = None,
    ) -> None:
        self.service = service
        self.dsn = dsn
        self.nats = nats
        # One JetStream context for the relay's life: each context subscribes an inbox of its own.
        self.js = nats.jetstream()
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        self.max_failed_attempts = max_failed_attempts
        self.published = 0
        self.is_leader = False
        self._after_publish = after_publish
        self._wake = asyncio.Event()
        self._prune_interval = prune_interval
        self._keep_days = keep_published_days
        self._last_prune = float("-inf")

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

    async def _connect(self) -> asyncpg.Connection:
        # The session advisory lock is the leadership: if this connection dies silently, the
        # server must notice soon (keepalives) and release it, and we must not hang on it.
        conn: asyncpg.Connection = await asyncpg.connect(
            self.dsn,
            command_timeout=self.publish_timeout + 20,
            server_settings={
                "tcp_keepalives_idle": "10",
                "tcp_keepalives_interval": "5",
                "tcp_keepalives_count": "3",
                "application_name": f"tila-{self.service}-relay",
            },
        )
        return conn

    async def _run_once(self) -> None:
        conn = await self._connect()
        try:
            while not await conn.fetchval(
                "select pg_try_advisory_lock(hashtext($1))", f"tila:outbox-relay:{self.service}"
            ):
                await asyncio.sleep(self.poll_interval)
            self.is_leader = True
            log.info("outbox_relay_leading", service=self.service)
            await conn.add_listener(outbox_channel(self.service), self._on_notify)
            while True:
                self._wake.clear()  # before draining: a NOTIFY during the drain wakes the next wait
                while await self.publish_batch(conn):
                    pass
                await self._prune_if_due(conn)
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
                # that arrives as the wake-up does (python/cpython#86296), leaving a relay that was
                # told to stop holding the leadership.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval):
                        await self._wake.wait()
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _prune_if_due(self, conn: asyncpg.Connection) -> None:
        if time.monotonic() - self._last_prune < self._prune_interval:
            return
        pruned = await prune_published(conn, older_than_days=self._keep_days)
        self._last_prune = time.monotonic()
        if pruned:
            log.info("outbox_pruned", service=self.service, rows=pruned)

    async def publish_batch(self, conn: asyncpg.Connection) -> int:
        """Publish up to one batch in insertion order; return how many rows it settled.

        A row JetStream refuses for itself (too large, rejected by the stream) is counted as a
        failed attempt and, after ``max_failed_attempts``, left aside (quarantined) so it cannot
        block the outbox. An outage (NATS unreachable, no stream, timeouts) raises and retries
        the whole batch later, without counting against any row.
        """
        async with asyncio.timeout(self.publish_timeout + 10), conn.transaction():
            rows = await conn.fetch(
                """
                select id, subject, payload from outbox
                where published_at is null and failed_attempts < $2
                order by created_at, id
                limit $1
                for update skip locked
                """,
                self.batch_size,
                self.max_failed_attempts,
            )
            if not rows:
                return 0
            outcomes = await self._publish(rows)
            for outcome in outcomes:
                if isinstance(outcome, _INFRASTRUCTURE_ERRORS):
                    raise outcome  # not this row's fault: retry the whole batch later
            if self._after_publish is not None:
                await self._after_publish(rows)
            done = [
                r["id"]
                for r, outcome in zip(rows, outcomes, strict=True)
                if not isinstance(outcome, BaseException)
            ]
            failed = [
                (r["id"], repr(o)[:500])
                for r, o in zip(rows, outcomes, strict=True)
                if isinstance(o, BaseException)
            ]
            await conn.execute("update outbox set published_at = now() where id = any($1::uuid[])", done)
            if failed:
                await conn.executemany(
                    "update outbox set failed_attempts = failed_attempts + 1, last_error = $2 where id = $1",
                    failed,
                )
                log.error("outbox_publish_refused", service=self.service, events=[str(i) for i, _ in failed])
        self.published += len(done)
        return len(rows)

    async def _publish(self, rows: Sequence[asyncpg.Record]) -> list[object]:
        futures: list[asyncio.Future[Any]] = []
        for row in rows:
            try:
                future: asyncio.Future[Any] = await self.js.publish_async(
                    row["subject"], bytes(row["payload"]), headers={"Nats-Msg-Id": str(row["id"])}
                )
            except Exception as exc:  # refused before sending, e.g. larger than max_payload
                future = asyncio.get_running_loop().create_future()
                future.set_exception(exc)
            futures.append(future)
        # A NATS outage leaves futures unresolved: the timeout turns that into a whole-batch retry.
        async with asyncio.timeout(self.publish_timeout):
            settled: list[object] = await asyncio.gather(*futures, return_exceptions=True)
        return settled


async def prune_published(conn: asyncpg.Connection, *, older_than_days: int = 7) -> int:
    """Delete rows published more than ``older_than_days`` ago (the leading relay, hourly)."""
    result: str = await conn.execute(
        "delete from outbox where published_at < now() - make_interval(days => $1)", older_than_days
    )
    return int(result.split()[-1])
