"""Use cases of sessions: the process's supervisor schedules, reschedules, marks held, cancels and
records no-shows; the process's readers list and read them.

Invariants are cited by their number in docs/architecture.md §8.

Every write locks the process row first, so the count of placed sessions (invariant 6) and the trial
gate are decided on what is committed. Each use case is one transaction with its event in the outbox.

No person is in two live sessions at once: the database refuses a session (scheduled or moved)
that overlaps another live one of the supervisor or of a participant — of any process, other
providers' too — with an exclusion constraint (migration 0016), which also holds between
concurrent requests. The refusal (409) names the supervisor's own session that it overlaps; of a
participant's other sessions it says only that there is one (they may be another supervisor's).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TypedDict

import asyncpg

from services.sessions.domain import sessions as domain
from services.sessions.domain.processes import Actor, Process
from services.sessions.domain.sessions import Attendance, CancelledBy, ReasonCategory, Session
from services.sessions.handlers.processes import (
    actor_of,
    announce,
    readable_process,
    utcnow,
    with_approvals,
)
from services.sessions.store import sessions as store
from shared.auth.principal import Principal
from shared.contracts import sessions as contracts
from shared.contracts.orders import CancellationTermsFact, DeliveryMode, PriceItemFact, SupervisionForm
from shared.db.tenant import tenant_transaction
from shared.errors import Conflict, FieldError, NotFound, check_version
from shared.http.idempotency import idempotent_request, remember, replay
from shared.http.pagination import decode_cursor, encode_cursor
from shared.ids import new_id

__all__ = [
    "cancel_session",
    "get_session",
    "list_sessions",
    "mark_held",
    "record_no_show",
    "reschedule_session",
    "schedule_session",
]


class _SessionFactsArgs(TypedDict):
    """The typed arguments every session event takes (``contracts.SessionFacts``)."""

    session_id: uuid.UUID
    process_id: uuid.UUID
    order_id: uuid.UUID
    buyer_id: uuid.UUID
    provider_id: uuid.UUID
    supervisor_id: uuid.UUID
    cost_centre_id: uuid.UUID
    agreement_id: uuid.UUID
    form: SupervisionForm
    mode: DeliveryMode
    starts_at: dt.datetime
    duration_minutes: int
    trial: bool


class _BillableFactsArgs(_SessionFactsArgs):
    """What a session event billing may charge adds (``contracts.BillableFacts``)."""

    price: PriceItemFact
    cancellation_terms: CancellationTermsFact
    participant_count: int


def _facts(process: Process, session: Session) -> _SessionFactsArgs:
    return _SessionFactsArgs(
        session_id=session.session_id,
        process_id=process.process_id,
        order_id=process.order_id,
        buyer_id=process.buyer_id,
        provider_id=process.provider_id,
        supervisor_id=process.supervisor_id,
        cost_centre_id=process.cost_centre_id,
        agreement_id=process.agreement_id,
        form=process.form,
        mode=session.mode,
        starts_at=session.starts_at,
        duration_minutes=session.duration_minutes,
        trial=session.trial,
    )


def _billable(process: Process, session: Session) -> _BillableFactsArgs:
    return _BillableFactsArgs(
        **_facts(process, session),
        price=domain.price_of(process, session),
        cancellation_terms=process.cancellation,
        participant_count=len(process.participants),
    )


async def _without_overlap(
    conn: asyncpg.Connection, process: Process, session: Session, write: Callable[[], Awaitable[None]]
) -> None:
    """Run ``write`` (the session's insert or update); 409 when the session would overlap another."""
    try:
        async with conn.transaction():  # a savepoint: the transaction still answers the look-up below
            await write()
        return
    except asyncpg.ExclusionViolationError:
        pass
    own = await store.overlapping_session_of_supervisor(conn, process.supervisor_id, session)
    if own is not None:
        start = own.starts_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        message = f"overlaps the supervisor's session {own.session_id} starting at {start}"
    else:
        # Another supervisor's process, maybe another provider's: nothing about it but that it exists.
        message = "overlaps another session of a participant"
    raise Conflict(f"the session {message}", errors=[FieldError("body.startsAt", message)])


async def _publish(
    conn: asyncpg.Connection, process: Process, session: Session, event: contracts.SessionFacts
) -> None:
    await announce(conn, process, event, subject=session.session_id, version=session.version)


# --- reads ---


async def _readable_session(
    conn: asyncpg.Connection, actor: Actor, session_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Process, Session]:
    """The session and its process if the caller may see the process; otherwise 404."""
    session = await store.fetch_session(conn, session_id)
    if session is None:
        raise NotFound("session not found")
    try:
        process = await readable_process(conn, actor, session.process_id, for_update=for_update)
    except NotFound:
        raise NotFound("session not found") from None
    if for_update:  # re-read under the process's lock
        locked = await store.fetch_session(conn, session_id, for_update=True)
        assert locked is not None
        session = locked
    return process, session


async def get_session(
    pool: asyncpg.Pool, principal: Principal, session_id: uuid.UUID
) -> tuple[Process, Session, Actor]:
    actor = actor_of(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        actor = await with_approvals(conn, actor)
        process, session = await _readable_session(conn, actor, session_id)
    return process, session, actor


async def list_sessions(
    pool: asyncpg.Pool, principal: Principal, process_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[Process, list[Session], str | None, Actor]:
    actor = actor_of(principal)
    after = decode_cursor(cursor, dt.datetime, uuid.UUID) if cursor else None
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        actor = await with_approvals(conn, actor)
        process = await readable_process(conn, actor, process_id)
        rows = await store.list_sessions(
            conn, process_id, after=(after[0], after[1]) if after else None, limit=limit + 1
        )
    if len(rows) <= limit:
        return process, rows, None, actor
    rows = rows[:limit]
    return process, rows, encode_cursor(rows[-1].starts_at, rows[-1].session_id), actor


# --- writes ---


async def schedule_session(
    pool: asyncpg.Pool,
    principal: Principal,
    process_id: uuid.UUID,
    *,
    starts_at: dt.datetime,
    duration_minutes: int,
    mode: DeliveryMode,
    idempotency_key: str | None,
    body_hash: str,
) -> Session:
    """A new session of the process; a replayed Idempotency-Key answers the stored session."""
    actor = actor_of(principal)
    request = idempotent_request(principal, idempotency_key, body_hash)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        if (stored := await replay(conn, request, Session)) is not None:
            return stored
        process = await readable_process(conn, actor, process_id, for_update=True)
        sessions = await store.sessions_of(conn, process_id)
        session = domain.schedule(
            process,
            sessions,
            actor,
            session_id=new_id(),
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            mode=mode,
        )
        await _without_overlap(conn, process, session, lambda: store.insert_session(conn, process, session))
        await _publish(conn, process, session, contracts.SessionScheduled(**_facts(process, session)))
        await remember(conn, request, session)
    return session


async def _save(conn: asyncpg.Connection, process: Process, before: Session, after: Session) -> None:
    if not await store.update_session(conn, process, after, expected_version=before.version):
        raise Conflict("changed by another request meanwhile; read it again and retry")


async def reschedule_session(
    pool: asyncpg.Pool,
    principal: Principal,
    session_id: uuid.UUID,
    *,
    starts_at: dt.datetime,
    duration_minutes: int,
    mode: DeliveryMode,
    expected_version: int | None,
) -> Session:
    actor = actor_of(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        process, session = await _readable_session(conn, actor, session_id, for_update=True)
        check_version(session.version, expected_version, what="session")
        changed = domain.reschedule(
            process, session, actor, starts_at=starts_at, duration_minutes=duration_minutes, mode=mode
        )
        if changed is session:
            return session
        await _without_overlap(conn, process, changed, lambda: _save(conn, process, session, changed))
        event = contracts.SessionRescheduled(
            **_facts(process, changed),
            previous_starts_at=session.starts_at,
            previous_duration_minutes=session.duration_minutes,
        )
        await _publish(conn, process, changed, event)
    return changed


async def mark_held(
    pool: asyncpg.Pool,
    principal: Principal,
    session_id: uuid.UUID,
    attendance: Sequence[Attendance],
    *,
    expected_version: int | None,
    now: dt.datetime | None = None,
) -> Session:
    actor = actor_of(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        process, session = await _readable_session(conn, actor, session_id, for_update=True)
        check_version(session.version, expected_version, what="session")
        sessions = await store.sessions_of(conn, process.process_id)
        changed = domain.mark_held(process, sessions, session, actor, attendance, now=now or utcnow())
        await _save(conn, process, session, changed)
        event = contracts.SessionHeld(
            **_billable(process, changed),
            ends_at=changed.ends_at,
            attendance=[
                contracts.AttendanceFact(person_id=a.person_id, attended=a.attended)
                for a in changed.attendance
            ],
        )
        await _publish(conn, process, changed, event)
    return changed


async def record_no_show(
    pool: asyncpg.Pool,
    principal: Principal,
    session_id: uuid.UUID,
    *,
    expected_version: int | None,
    now: dt.datetime | None = None,
) -> Session:
    actor = actor_of(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        process, session = await _readable_session(conn, actor, session_id, for_update=True)
        check_version(session.version, expected_version, what="session")
        sessions = await store.sessions_of(conn, process.process_id)
        changed = domain.record_no_show(process, sessions, session, actor, now=now or utcnow())
        await _save(conn, process, session, changed)
        await _publish(conn, process, changed, contracts.SessionNoShow(**_billable(process, changed)))
    return changed


async def cancel_session(
    pool: asyncpg.Pool,
    principal: Principal,
    session_id: uuid.UUID,
    *,
    cancelled_by: CancelledBy,
    reason_category: ReasonCategory,
    expected_version: int | None,
    now: dt.datetime | None = None,
) -> Session:
    """Cancelled; the event says the category and whether the terms exempt it, never the reason."""
    actor = actor_of(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        process, session = await _readable_session(conn, actor, session_id, for_update=True)
        check_version(session.version, expected_version, what="session")
        changed = domain.cancel(
            process,
            session,
            actor,
            cancelled_by=cancelled_by,
            reason_category=reason_category,
            now=now or utcnow(),
        )
        await _save(conn, process, session, changed)
        cancellation = changed.cancellation
        assert cancellation is not None
        event = contracts.SessionCancelled(
            **_billable(process, changed),
            category=cancellation.category,
            cancelled_at=cancellation.cancelled_at,
            charge_exempt=cancellation.charge_exempt,
        )
        await _publish(conn, process, changed, event)
    return changed
