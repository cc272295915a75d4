"""Use cases of processes: opened and closed by the orders service's events, the agreement, the
trial decision and evaluations recorded by the process's supervisor, and reading them.

Each use case is one transaction; its events go to the outbox in it, addressed to the process's
buyer and provider. Events carry the frame only — never a reason or any other content.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TypedDict

import asyncpg
import msgspec

from services.sessions import SERVICE
from services.sessions.domain import processes as domain
from services.sessions.domain import sessions as sessions_domain
from services.sessions.domain.processes import (
    Actor,
    EvaluationKind,
    Process,
    SupervisionAgreement,
    TrialDecision,
)
from services.sessions.store import processes as store
from services.sessions.store import sessions as sessions_store
from shared import approvers
from shared.auth.principal import Principal
from shared.contracts import Event
from shared.contracts import orders as orders_contracts
from shared.contracts import sessions as contracts
from shared.contracts.orders import SupervisionForm
from shared.db.tenant import tenant_transaction
from shared.errors import Conflict, Forbidden, NotFound, check_version
from shared.events import add_to_outbox, envelope_for
from shared.events.consumer import NotYetApplicable, PermanentEventError
from shared.events.envelope import Envelope
from shared.http.pagination import decode_cursor, encode_cursor
from shared.ids import new_id

__all__ = [
    "ProcessFactsArgs",
    "ProcessNotYetKnown",
    "actor_of",
    "announce",
    "apply_order_accepted",
    "apply_order_closed",
    "apply_order_extended",
    "decide_trial",
    "get_process",
    "list_processes",
    "process_facts",
    "readable_process",
    "record_agreement",
    "record_evaluation",
    "utcnow",
    "with_approvals",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ProcessNotYetKnown(NotYetApplicable):
    """An order event about a process arrived before the acceptance that opens it: retried."""


# --- shared by the use cases ---


def actor_of(principal: Principal) -> Actor:
    """The caller as the rules see them; a person's token carries their person id as ``sub``."""
    try:
        person_id = uuid.UUID(principal.subject)
    except ValueError:
        raise Forbidden("only people act on supervision processes") from None
    known = {r.value for r in domain.Role}
    return Actor(
        person_id=person_id,
        tenant_id=principal.tenant_id,
        roles=frozenset(domain.Role(r) for r in principal.roles if r in known),
    )


async def with_approvals(conn: asyncpg.Connection, actor: Actor) -> Actor:
    """The actor with the cost centres they hold as an approver, looked up once."""
    if actor.approver_of is not None or domain.Role.APPROVER not in actor.roles:
        return actor
    held = await approvers.assigned_cost_centres(conn, actor.tenant_id, actor.person_id)
    return msgspec.structs.replace(actor, approver_of=held)


async def readable_process(
    conn: asyncpg.Connection, actor: Actor, process_id: uuid.UUID, *, for_update: bool = False
) -> Process:
    """The process if the caller may see it; otherwise 404, as if it did not exist."""
    actor = await with_approvals(conn, actor)
    process = await store.fetch_process(conn, process_id, for_update=for_update)
    if process is None or not domain.can_read(process, actor):
        raise NotFound("process not found")
    return process


class ProcessFactsArgs(TypedDict):
    """The typed arguments every process event takes (``contracts.ProcessFacts``)."""

    process_id: uuid.UUID
    order_id: uuid.UUID
    buyer_id: uuid.UUID
    provider_id: uuid.UUID
    supervisor_id: uuid.UUID
    cost_centre_id: uuid.UUID
    agreement_id: uuid.UUID
    form: SupervisionForm
    participants: list[uuid.UUID]
    planned_sessions: int


def process_facts(process: Process) -> ProcessFactsArgs:
    return ProcessFactsArgs(
        process_id=process.process_id,
        order_id=process.order_id,
        buyer_id=process.buyer_id,
        provider_id=process.provider_id,
        supervisor_id=process.supervisor_id,
        cost_centre_id=process.cost_centre_id,
        agreement_id=process.agreement_id,
        form=process.form,
        participants=list(process.participants),
        planned_sessions=process.planned_sessions,
    )


async def announce(
    conn: asyncpg.Connection,
    process: Process,
    event: Event,
    *,
    subject: uuid.UUID,
    version: int,
    occurred_at: dt.datetime | None = None,
) -> None:
    """To the process's buyer and provider."""
    envelope = envelope_for(
        event,
        source=SERVICE,
        subject=subject,
        version=version,
        tenant_ids=[process.buyer_id, process.provider_id],
        occurred_at=occurred_at,
    )
    await add_to_outbox(conn, SERVICE, envelope)


async def _save(conn: asyncpg.Connection, before: Process, after: Process) -> None:
    if not await store.update_process(conn, after, expected_version=before.version):
        raise Conflict("changed by another request meanwhile; read it again and retry")


# --- from the orders service's events (the consumer's transaction, the buyer's tenant) ---


def _buyer_of(envelope: Envelope, event: orders_contracts.OrderFacts) -> None:
    if envelope.tenant_ids[0] != event.buyer_id or event.provider_id not in envelope.tenant_ids:
        raise PermanentEventError("an order event addressed otherwise than to its buyer and provider")


async def apply_order_accepted(
    conn: asyncpg.Connection, envelope: Envelope, event: orders_contracts.OrderAccepted
) -> None:
    """Open the order's process, once: a repeated acceptance finds it there."""
    _buyer_of(envelope, event)
    if await store.fetch_process_by_order(conn, event.order_id) is not None:
        return
    try:
        process = domain.open_process(
            new_id(), event, accepted_at=envelope.occurred_at, order_version=envelope.version
        )
    except domain.RuleBroken as exc:
        raise PermanentEventError(f"cannot open a process: {exc.field}: {exc.message}") from None
    if not await store.insert_process(conn, process):
        return  # opened concurrently by another delivery
    started = contracts.ProcessStarted(**process_facts(process))
    await announce(conn, process, started, subject=process.process_id, version=process.version)


async def _process_of(conn: asyncpg.Connection, order_id: uuid.UUID) -> Process:
    process = await store.fetch_process_by_order(conn, order_id, for_update=True)
    if process is None:
        raise ProcessNotYetKnown(str(order_id))  # the consumer naks it with backoff
    return process


async def apply_order_extended(
    conn: asyncpg.Connection, envelope: Envelope, event: orders_contracts.OrderExtended
) -> None:
    """An approved extension raises the ordered count."""
    _buyer_of(envelope, event)
    process = await _process_of(conn, event.order_id)
    extended = domain.extend(process, event, order_version=envelope.version)
    if extended is not process:
        await _save(conn, process, extended)


_OUTCOMES: dict[str, domain.ProcessOutcome] = {
    orders_contracts.OrderCompleted.event_type: "completed",
    orders_contracts.OrderInterrupted.event_type: "interrupted",
    orders_contracts.OrderCancelled.event_type: "cancelled",
}


async def apply_order_closed(
    conn: asyncpg.Connection, envelope: Envelope, event: orders_contracts.OrderFacts
) -> None:
    """Completed, interrupted or cancelled: the process closes (a cancelled order may have none)."""
    outcome = _OUTCOMES[envelope.type]
    if outcome == "cancelled":
        # Orders tells the provider of an order only from its offer on: a cancellation before that
        # is addressed to the buyer alone, and finds no process (found by the security suite, whose
        # seeded world carries every event to its consumers; it used to be dead-lettered).
        if envelope.tenant_ids[0] != event.buyer_id:
            raise PermanentEventError("an order event addressed otherwise than to its buyer")
        process = await store.fetch_process_by_order(conn, event.order_id, for_update=True)
        if process is None:
            return  # cancelled before it was accepted: there never was a process
        _buyer_of(envelope, event)
    else:
        _buyer_of(envelope, event)
        process = await _process_of(conn, event.order_id)
    closed = domain.close(process, outcome, closed_at=envelope.occurred_at, order_version=envelope.version)
    if closed is process:
        return
    await _save(conn, process, closed)
    assert closed.closed_at is not None
    event_out = contracts.ProcessClosed(
        **process_facts(closed),
        outcome=outcome,
        closed_at=closed.closed_at,
    )
    await announce(conn, closed, event_out, subject=closed.process_id, version=closed.version)


# --- reads ---


async def get_process(
    pool: asyncpg.Pool, principal: Principal, process_id: uuid.UUID
) -> tuple[Process, Actor]:
    actor = actor_of(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        actor = await with_approvals(conn, actor)
        return await readable_process(conn, actor, process_id), actor


async def list_processes(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    cursor: str | None,
    limit: int,
    status: domain.ProcessStatus | None = None,
) -> tuple[list[Process], str | None, Actor]:
    """The processes the caller may see, by id: all the tenant's for its admins, those of an
    approver's cost centres, a supervisor's own, a participant's own."""
    actor = actor_of(principal)
    after: uuid.UUID | None = decode_cursor(cursor, uuid.UUID)[0] if cursor else None
    supervisor_id: uuid.UUID | None = None
    participant_id: uuid.UUID | None = None
    if not actor.roles & {domain.Role.BUYER_ADMIN, domain.Role.APPROVER, domain.Role.PROVIDER_ADMIN}:
        if domain.Role.SUPERVISOR in actor.roles:
            supervisor_id = actor.person_id
        else:
            participant_id = actor.person_id
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        actor = await with_approvals(conn, actor)
        rows = await store.list_processes(
            conn,
            after=after,
            limit=limit + 1,
            supervisor_id=supervisor_id,
            participant_id=participant_id,
            status=status.value if status else None,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    readable = [p for p in rows if domain.can_read(p, actor)]
    return readable, encode_cursor(rows[-1].process_id) if more else None, actor


# --- the supervisor's records ---


async def record_agreement(
    pool: asyncpg.Pool,
    principal: Principal,
    process_id: uuid.UUID,
    agreement: SupervisionAgreement,
    *,
    expected_version: int | None,
    now: dt.datetime | None = None,
) -> Process:
    actor = actor_of(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        process = await readable_process(conn, actor, process_id, for_update=True)
        check_version(process.version, expected_version, what="process")
        changed = domain.record_agreement(process, actor, agreement, now=now or utcnow())
        await _save(conn, process, changed)
    return changed


async def decide_trial(
    pool: asyncpg.Pool,
    principal: Principal,
    process_id: uuid.UUID,
    decision: TrialDecision,
    *,
    expected_version: int | None,
    now: dt.datetime | None = None,
) -> Process:
    actor = actor_of(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        process = await readable_process(conn, actor, process_id, for_update=True)
        check_version(process.version, expected_version, what="process")
        trials = [s for s in await sessions_store.sessions_of(conn, process_id) if s.trial]
        held = sum(1 for s in trials if s.status is sessions_domain.SessionStatus.HELD)
        pending = sum(1 for s in trials if s.status is sessions_domain.SessionStatus.SCHEDULED)
        changed = domain.decide_trial(
            process,
            actor,
            decision,
            now=now or utcnow(),
            trial_sessions_held=held,
            trial_sessions_pending=pending,
        )
        await _save(conn, process, changed)
    return changed


async def record_evaluation(
    pool: asyncpg.Pool,
    principal: Principal,
    process_id: uuid.UUID,
    kind: EvaluationKind,
    done_at: dt.datetime,
    *,
    expected_version: int | None,
    now: dt.datetime | None = None,
) -> Process:
    """That the evaluation took place; publishes ``EvaluationDone`` (the fact and its date only)."""
    actor = actor_of(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        process = await readable_process(conn, actor, process_id, for_update=True)
        check_version(process.version, expected_version, what="process")
        changed = domain.record_evaluation(process, actor, kind, done_at, now=now or utcnow())
        await _save(conn, process, changed)
        event = contracts.EvaluationDone(
            process_id=changed.process_id,
            order_id=changed.order_id,
            buyer_id=changed.buyer_id,
            provider_id=changed.provider_id,
            kind=kind,
            done_at=done_at,
        )
        await announce(conn, changed, event, subject=changed.process_id, version=changed.version)
    return changed
