"""The idempotent consumer: a durable pull consumer whose effects commit with an inbox row.

A fetched batch is applied in one transaction, each message in a savepoint of its own that
inserts ``(consumer, message id)`` into ``inbox`` and runs the handler; a redelivered message
finds its inbox row and changes nothing. Acks follow the commit, so a crash between them
costs a harmless redelivery, and a crash before it leaves nothing behind. A failing message
is ``nak``-ed with backoff; at the last allowed delivery, or at once when it can never
succeed, it is written to ``dead_letter`` (in the same transaction) and ``term``-ed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from shared.contracts import Event, UnknownEventType
from shared.db.tenant import set_tenant
from shared.events.envelope import Envelope, decode_envelope
from shared.events.streams import ConsumerSpec, ensure_consumer
from shared.logging import bind_context, clear_context, get_logger, trace_id_of

__all__ = ["EventConsumer", "NotYetApplicable", "On", "PermanentEventError", "apply_event", "on"]

log = get_logger(__name__)

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class On(Generic[E]):
    """One event type a consumer handles and what applying it does (made by :func:`on`)."""

    event: type[E]
    apply: Callable[[asyncpg.Connection, Envelope, E], Awaitable[None]]


def on(event: type[E], apply: Callable[[asyncpg.Connection, Envelope, E], Awaitable[None]]) -> On[E]:
    """Declare a consumer's handler: ``apply(conn, envelope, data)`` runs inside the consumer's
    transaction with ``data`` decoded as ``event`` (a contract Struct from ``shared.contracts``).

    Several declarations of one type run in the order given, in the same savepoint."""
    return On(event, apply)


async def _run(handlers: Sequence[On[Any]], conn: asyncpg.Connection, envelope: Envelope) -> None:
    data = envelope.event_as(handlers[0].event)
    for handler in handlers:
        await handler.apply(conn, envelope, data)


async def apply_event(handlers: Sequence[On[Any]], conn: asyncpg.Connection, envelope: Envelope) -> bool:
    """Apply ``envelope`` with those of ``handlers`` declared for its type, as a consumer does
    (without the inbox); False when none is."""
    chosen = [h for h in handlers if h.event.event_type == envelope.type]
    if chosen:
        await _run(chosen, conn, envelope)
    return bool(chosen)


AfterCommit = Callable[[Msg, Envelope], Awaitable[None]]


class PermanentEventError(Exception):
    """The event can never be applied (bad data, broken invariant): dead-letter it now."""


class NotYetApplicable(Exception):
    """The event came before one it builds on (an update before its creation): retried with
    backoff and never dead-lettered, however often it comes back. Waiting is not failing: a
    delivery limit would let a slow or loaded producer turn an ordering gap into a lost event."""


class _Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    RETRY = "retry"
    DEAD = "dead"


class EventConsumer:
    def __init__(
        self,
        *,
        spec: ConsumerSpec,
        pool: asyncpg.Pool,
        nats: NATS,
        handlers: Sequence[On[Any]],
        batch_size: int = 100,
        fetch_timeout: float = 1.0,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self.spec = spec
        self.pool = pool
        self.nats = nats
        self.handlers: dict[str, list[On[Any]]] = {}
        for handler in handlers:
            same_type = self.handlers.setdefault(handler.event.event_type, [])
            if same_type and same_type[0].event is not handler.event:
                raise ValueError(f"{handler.event.event_type} declared with two classes")
            same_type.append(handler)
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
            else:
                delay = 0.2

    async def _run_subscription(self) -> None:
        js = self.nats.jetstream()
        await ensure_consumer(js, self.spec)
        sub = await js.pull_subscribe_bind(durable=self.spec.durable, stream=self.spec.stream)
        reconnects = self.nats.stats["reconnects"]
        log.info("consumer_subscribed", consumer=self.spec.durable)
        try:
            while True:
                _raise_if_cancelled()
                if self.nats.stats["reconnects"] != reconnects:
                    # nats.py pull subscriptions can go quiet after a server restart (#504):
                    # start over with a fresh one.
                    return
                try:
                    messages = await sub.fetch(self.batch_size, timeout=self.fetch_timeout)
                except TimeoutError:  # nats.errors.TimeoutError and asyncio.TimeoutError alike
                    continue
                await self.handle_batch(messages)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        """Apply a batch in one transaction, then settle each message (ack, nak or term)."""
        outcomes: list[tuple[Msg, Envelope | None, _Outcome]] = []
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                for msg in messages:
                    outcomes.append(await self._apply(conn, msg))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The transaction is gone (database down, connection lost): nothing was applied.
            log.warning("consumer_batch_failed", consumer=self.spec.durable, error=repr(exc))
            for msg in messages:
                await self._retry_later(msg)
            return
        finally:
            clear_context()
        for msg, envelope, outcome in outcomes:
            await self._settle(msg, envelope, outcome)

    async def _apply(self, conn: asyncpg.Connection, msg: Msg) -> tuple[Msg, Envelope | None, _Outcome]:
        deliveries = msg.metadata.num_delivered
        try:
            envelope = decode_envelope(msg.data)
        except msgspec.DecodeError as exc:
            await self._dead_letter(conn, msg, None, f"undecodable envelope: {exc}")
            return msg, None, _Outcome.DEAD
        bind_context(
            event_id=str(envelope.id),
            event_type=envelope.type,
            tenant_id=str(envelope.tenant_ids[0]),
            trace_id=trace_id_of(envelope.traceparent),
        )
        handlers = self.handlers.get(envelope.type)
        if not handlers:
            return msg, envelope, _Outcome.IGNORED  # the filter is broader than the handlers
        try:
            async with conn.transaction():  # a savepoint: a failure undoes this message only
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
                    return msg, envelope, _Outcome.DUPLICATE
                await _run(handlers, conn, envelope)
                return msg, envelope, _Outcome.APPLIED
        except (PermanentEventError, msgspec.DecodeError, UnknownEventType) as exc:
            await self._dead_letter(conn, msg, envelope, f"{type(exc).__name__}: {exc}")
            return msg, envelope, _Outcome.DEAD
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError):
            raise  # the whole batch is lost; handle_batch retries it
        except NotYetApplicable as exc:
            log.info("event_not_yet", consumer=self.spec.durable, deliveries=deliveries, error=repr(exc))
            return msg, envelope, _Outcome.RETRY
        except Exception as exc:
            if deliveries >= self.spec.max_deliver:
                await self._dead_letter(conn, msg, envelope, f"failed {deliveries} times: {exc!r}")
                return msg, envelope, _Outcome.DEAD
            log.warning("event_retry", consumer=self.spec.durable, deliveries=deliveries, error=repr(exc))
            return msg, envelope, _Outcome.RETRY

    async def _settle(self, msg: Msg, envelope: Envelope | None, outcome: _Outcome) -> None:
        if outcome is _Outcome.RETRY:
            await self._retry_later(msg)
        elif outcome is _Outcome.DEAD:
            await msg.term()
            self.dead_lettered += 1
        else:
            if envelope is not None and self._after_commit is not None and outcome is not _Outcome.IGNORED:
                await self._after_commit(msg, envelope)
            await msg.ack()
            if outcome is _Outcome.APPLIED:
                self.applied += 1
            elif outcome is _Outcome.DUPLICATE:
                self.duplicates += 1

    async def _retry_later(self, msg: Msg) -> None:
        backoff = self.spec.nak_backoff_seconds
        await msg.nak(delay=backoff[min(msg.metadata.num_delivered - 1, len(backoff) - 1)])

    async def _dead_letter(
        self, conn: asyncpg.Connection, msg: Msg, envelope: Envelope | None, error: str
    ) -> None:
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
        log.error("event_dead_lettered", consumer=self.spec.durable, subject=msg.subject, error=error[:200])


def _raise_if_cancelled() -> None:
    """Stop a task whose cancellation was swallowed. nats-py's ``fetch`` waits with
    ``asyncio.wait_for``, which on Python 3.11 can lose a cancellation that arrives just as the
    fetch completes (python/cpython#86296); the request still shows in ``Task.cancelling()``, so
    a consumer told to stop does stop at its next fetch instead of running on (and hanging
    whoever awaits it)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
