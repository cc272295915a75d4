"""The idempotent consumer: a durable pull consumer whose effects commit with an inbox row.

For each message, one transaction inserts ``(consumer, message id)`` into ``inbox`` and runs
the handler; a redelivered message finds its inbox row and changes nothing. The ack follows
the commit, so a crash between them costs one harmless redelivery. A failing handler is
``nak``-ed with backoff; at the last allowed delivery, or at once for a message that can
never succeed, it goes to ``dead_letter`` and is ``term``-ed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping

import asyncpg
import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from shared.contracts import UnknownEventType
from shared.db.tenant import set_tenant
from shared.events.envelope import Envelope, decode_envelope
from shared.events.streams import ConsumerSpec, ensure_consumer
from shared.logging import bind_context, clear_context, get_logger, trace_id_of

__all__ = ["EventConsumer", "EventHandler", "PermanentEventError"]

log = get_logger(__name__)

EventHandler = Callable[[asyncpg.Connection, Envelope], Awaitable[None]]
"""Applies one event's effects on a connection inside the consumer's transaction.

It decodes the data it needs with ``envelope.event_as(SomeEvent)``."""

AfterCommit = Callable[[Msg, Envelope], Awaitable[None]]


class PermanentEventError(Exception):
    """The event can never be applied (bad data, broken invariant): dead-letter it now."""


class EventConsumer:
    def __init__(
        self,
        *,
        spec: ConsumerSpec,
        pool: asyncpg.Pool,
        nats: NATS,
        handlers: Mapping[str, EventHandler] | EventHandler,
        batch_size: int = 100,
        fetch_timeout: float = 1.0,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self.spec = spec
        self.pool = pool
        self.nats = nats
        # A mapping picks a handler per event type; a single callable takes every type.
        self.handlers = handlers
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.applied = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self._after_commit = after_commit

    async def run(self) -> None:
        """Fetch and handle until cancelled; re-subscribes after errors and NATS reconnects."""
        delay = 0.2
        while True:
            try:
                await self._run_subscription()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer_error", consumer=self.spec.durable, error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _run_subscription(self) -> None:
        js = self.nats.jetstream()
        await ensure_consumer(js, self.spec)
        sub = await js.pull_subscribe_bind(durable=self.spec.durable, stream=self.spec.stream)
        reconnects = self.nats.stats["reconnects"]
        log.info("consumer_subscribed", consumer=self.spec.durable)
        try:
            while True:
                if self.nats.stats["reconnects"] != reconnects:
                    # nats.py pull subscriptions can go quiet after a server restart (#504):
                    # start over with a fresh one.
                    return
                try:
                    messages = await sub.fetch(self.batch_size, timeout=self.fetch_timeout)
                except TimeoutError:  # nats.errors.TimeoutError and asyncio.TimeoutError alike
                    continue
                for msg in messages:
                    await self.handle(msg)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def handle(self, msg: Msg) -> None:
        """Apply one message exactly once, or nak / dead-letter it."""
        deliveries = msg.metadata.num_delivered
        try:
            envelope = decode_envelope(msg.data)
        except msgspec.DecodeError as exc:
            await self._dead_letter(msg, None, f"undecodable envelope: {exc}")
            return
        bind_context(
            event_id=str(envelope.id),
            event_type=envelope.type,
            tenant_id=str(envelope.tenant_ids[0]),
            trace_id=trace_id_of(envelope.traceparent),
        )
        try:
            handler = (
                self.handlers.get(envelope.type) if isinstance(self.handlers, Mapping) else self.handlers
            )
            if handler is None:
                # Not ours to act on (the filter is broader than the handlers): acknowledge.
                await msg.ack()
                return
            try:
                applied = await self._apply(envelope, handler)
            except (msgspec.DecodeError, UnknownEventType) as exc:
                raise PermanentEventError(f"undecodable data: {exc}") from exc
            if self._after_commit is not None:
                await self._after_commit(msg, envelope)
            await msg.ack()
            if applied:
                self.applied += 1
            else:
                self.duplicates += 1
        except PermanentEventError as exc:
            await self._dead_letter(msg, envelope, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if deliveries >= self.spec.max_deliver:
                await self._dead_letter(msg, envelope, f"failed {deliveries} times: {exc!r}")
            else:
                backoff = self.spec.nak_backoff_seconds
                delay = backoff[min(deliveries - 1, len(backoff) - 1)]
                log.warning("event_nak", consumer=self.spec.durable, deliveries=deliveries, error=repr(exc))
                await msg.nak(delay=delay)
        finally:
            clear_context()

    async def _apply(self, envelope: Envelope, handler: EventHandler) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            await set_tenant(conn, envelope.tenant_ids[0])
            first_time = await conn.fetchval(
                """
                insert into inbox (consumer, message_id, tenant_id) values ($1, $2, $3)
                on conflict do nothing returning true
                """,
                self.spec.durable,
                envelope.id,
                envelope.tenant_ids[0],
            )
            if not first_time:
                return False
            await handler(conn, envelope)
            return True

    async def _dead_letter(self, msg: Msg, envelope: Envelope | None, error: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                """
                insert into dead_letter
                  (consumer, message_id, subject, stream_seq, num_delivered, payload, error)
                values ($1, $2, $3, $4, $5, $6, $7)
                """,
                self.spec.durable,
                str(envelope.id) if envelope else (msg.headers or {}).get("Nats-Msg-Id"),
                msg.subject,
                msg.metadata.sequence.stream,
                msg.metadata.num_delivered,
                msg.data,
                error[:2000],
            )
        await msg.term()
        self.dead_lettered += 1
        log.error("event_dead_lettered", consumer=self.spec.durable, subject=msg.subject, error=error[:200])
