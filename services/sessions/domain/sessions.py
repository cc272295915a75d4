"""Sessions of a supervision process: scheduling, held with attendance, cancellations, no-shows.

Invariants are cited by their number in docs/architecture.md §8.

States::

    scheduled → held | cancelled | no_show      (rescheduling keeps it scheduled)

Rules (the process's supervisor records every change; handlers pass the clock in as ``now``):

- A session belongs to an open process, which exists only once its order was accepted, and never
  starts before that acceptance (invariant 5); it ends by the end of the order's last day
  (``ends_on``, Europe/Helsinki; approved extensions move it).
- Its duration and delivery mode are ones the snapshotted price list prices for the process's form
  (invariant 7).
- The sessions that take one of the ordered places — scheduled, held, no-show, and late
  cancellations the terms do not exempt — never number more than the ordered count including
  approved extensions. So held + billable-cancelled never exceed it either (invariant 6). A
  cancellation on time or by the supervisor frees its place.
- With trial sessions in the agreement, the first ones scheduled are trial sessions. Later ones may
  be booked ahead while the trial runs, but none of them is held or a no-show before a "go"
  (invariant 5); after a "no-go" nothing more is scheduled, held or a no-show.
- A session is held or a no-show only once it has started. Held records attendance for every
  participant, at least one present (nobody present is a no-show).
- Cancellation category, from the snapshotted ``late_threshold_hours`` and the clock:
  ``by_supervisor`` when the supervisor cancels; otherwise ``on_time`` when at least the threshold
  is left before the start — **exactly at the threshold counts as on time** (the threshold is the
  last moment to cancel free of charge) — and ``late`` when less is left (also after the start).
  ``charge_exempt`` is set for a late cancellation whose reason category is illness when the terms
  exempt illness. Only the reason's category is kept; any free-text reason is content, not frame.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from services.sessions.domain.processes import (
    Actor,
    Process,
    RuleBroken,
    WrongState,
    allowed_price,
    require_supervisor,
    trial_numbers,
)
from shared.contracts.orders import DeliveryMode, PriceItemFact
from shared.contracts.sessions import CancellationCategory

HELSINKI = ZoneInfo("Europe/Helsinki")

__all__ = [
    "Attendance",
    "Cancellation",
    "CancelledBy",
    "ReasonCategory",
    "Session",
    "SessionStatus",
    "billable",
    "cancel",
    "cancellation_category",
    "mark_held",
    "order_period_end",
    "price_of",
    "record_no_show",
    "reschedule",
    "schedule",
    "takes_a_place",
]

CancelledBy = Literal["participant", "buyer", "supervisor"]
"""Who cancelled: a participant, the buyer (e.g. the unit), or the supervisor."""
ReasonCategory = Literal["illness", "work_shift", "workload", "family", "other"]
"""The category of a cancellation's reason: never shown to the buyer, never in events."""


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Attendance(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    person_id: uuid.UUID
    attended: bool


class Cancellation(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    cancelled_by: CancelledBy
    cancelled_at: dt.datetime
    category: CancellationCategory
    reason_category: ReasonCategory
    charge_exempt: bool = False


class Session(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    session_id: uuid.UUID
    process_id: uuid.UUID
    starts_at: dt.datetime
    duration_minutes: int
    mode: DeliveryMode
    trial: bool = False
    status: SessionStatus = SessionStatus.SCHEDULED
    attendance: tuple[Attendance, ...] = ()
    cancellation: Cancellation | None = None
    recorded_at: dt.datetime | None = None
    """When it was marked held or a no-show."""
    version: int = 1

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.duration_minutes)


def billable(session: Session) -> bool:
    """Held, no-show, or cancelled late without the terms' exemption (invariant 8's billable kinds)."""
    if session.status in (SessionStatus.HELD, SessionStatus.NO_SHOW):
        return True
    c = session.cancellation
    return (
        session.status is SessionStatus.CANCELLED
        and c is not None
        and c.category == "late"
        and not c.charge_exempt
    )


def takes_a_place(session: Session) -> bool:
    """Counts against the ordered sessions: scheduled or billable."""
    return session.status is SessionStatus.SCHEDULED or billable(session)


def price_of(process: Process, session: Session) -> PriceItemFact:
    price = allowed_price(process, session.duration_minutes, session.mode)
    if price is None:  # pragma: no cover - scheduling and rescheduling allow only priced sessions
        raise RuleBroken("durationMinutes", "the price list has no item for this session")
    return price


def cancellation_category(
    starts_at: dt.datetime, now: dt.datetime, *, threshold_hours: int, cancelled_by: CancelledBy
) -> CancellationCategory:
    """Exactly ``threshold_hours`` before the start is still on time; a moment later is late."""
    if cancelled_by == "supervisor":
        return "by_supervisor"
    return "on_time" if starts_at - now >= dt.timedelta(hours=threshold_hours) else "late"


def _aware(value: dt.datetime, field: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise RuleBroken(field, "give a time with its offset (UTC or +02:00/+03:00)")


def order_period_end(process: Process) -> dt.datetime:
    """The end of the order's last day (``ends_on``, Europe/Helsinki) as an instant."""
    next_day = process.ends_on + dt.timedelta(days=1)
    return dt.datetime.combine(next_day, dt.time(0), tzinfo=HELSINKI).astimezone(dt.UTC)


def _check_frame(process: Process, starts_at: dt.datetime, duration_minutes: int, mode: DeliveryMode) -> None:
    _aware(starts_at, "body.startsAt")
    if starts_at < process.accepted_at:
        raise RuleBroken("body.startsAt", "no session before the order was accepted")
    # Compared without adding to ``starts_at``: a time near the calendar's end must not overflow.
    if starts_at > order_period_end(process) - dt.timedelta(minutes=duration_minutes):
        raise RuleBroken(
            "body.startsAt", f"a session ends within the order's period, by {process.ends_on.isoformat()}"
        )
    if allowed_price(process, duration_minutes, mode) is None:
        allowed = sorted({(i.duration_minutes, i.mode) for i in process.price_list})
        text = ", ".join(f"{d} min {m}" for d, m in allowed)
        raise RuleBroken("body.durationMinutes", f"the order's price list allows: {text}")


def _require_scheduled(session: Session) -> None:
    if session.status is not SessionStatus.SCHEDULED:
        raise WrongState(f"the session is {session.status}; this needs a scheduled session")


def schedule(
    process: Process,
    sessions: Sequence[Session],
    actor: Actor,
    *,
    session_id: uuid.UUID,
    starts_at: dt.datetime,
    duration_minutes: int,
    mode: DeliveryMode,
) -> Session:
    """A new session within the ordered count, past the trial gate."""
    require_supervisor(process, actor)
    _check_frame(process, starts_at, duration_minutes, mode)
    placed = [s for s in sessions if takes_a_place(s)]
    if len(placed) >= process.planned_sessions:
        raise WrongState(
            f"all {process.planned_sessions} ordered sessions are placed; more need an approved extension"
        )
    trial = False
    trials = trial_numbers(process)
    if process.trial_decision == "no_go":
        raise WrongState("the trial ended in a no-go: no further sessions")
    if trials and process.trial_decision is None and sum(1 for s in placed if s.trial) < trials:
        trial = True
    return Session(
        session_id=session_id,
        process_id=process.process_id,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        mode=mode,
        trial=trial,
    )


def _next(session: Session, **changes: object) -> Session:
    return msgspec.structs.replace(session, version=session.version + 1, **changes)


def reschedule(
    process: Process,
    session: Session,
    actor: Actor,
    *,
    starts_at: dt.datetime,
    duration_minutes: int,
    mode: DeliveryMode,
) -> Session:
    require_supervisor(process, actor)
    _require_scheduled(session)
    _check_frame(process, starts_at, duration_minutes, mode)
    if (starts_at, duration_minutes, mode) == (session.starts_at, session.duration_minutes, session.mode):
        return session
    return _next(session, starts_at=starts_at, duration_minutes=duration_minutes, mode=mode)


def _started(session: Session, now: dt.datetime) -> None:
    if now < session.starts_at:
        raise WrongState("the session has not started yet")


def _past_the_trial_gate(process: Process, session: Session) -> None:
    """A session after the trial sessions takes place only once the trial is decided "go"."""
    if session.trial or not trial_numbers(process) or process.trial_decision == "go":
        return
    if process.trial_decision == "no_go":
        raise WrongState("the trial ended in a no-go: only the trial sessions are held")
    raise WrongState(
        "this session follows the trial sessions: it is held after the go/no-go decision"
        " (booking it ahead is fine)"
    )


def _within_ordered(process: Process, sessions: Sequence[Session], session: Session) -> None:
    others = sum(1 for s in sessions if s.session_id != session.session_id and billable(s))
    if others + 1 > process.planned_sessions:  # pragma: no cover - scheduling keeps to the count
        raise WrongState("held and charged sessions would exceed the ordered sessions")


def mark_held(
    process: Process,
    sessions: Sequence[Session],
    session: Session,
    actor: Actor,
    attendance: Sequence[Attendance],
    *,
    now: dt.datetime,
) -> Session:
    require_supervisor(process, actor)
    _require_scheduled(session)
    _started(session, now)
    _past_the_trial_gate(process, session)
    people = [a.person_id for a in attendance]
    if len(set(people)) != len(people) or set(people) != set(process.participants):
        raise RuleBroken("body.attendance", "one entry for each participant of the process, no one else")
    if not any(a.attended for a in attendance):
        raise RuleBroken("body.attendance", "nobody attended: record a no-show instead")
    _within_ordered(process, sessions, session)
    by_participant = {a.person_id: a for a in attendance}
    ordered = tuple(by_participant[p] for p in process.participants)
    return _next(session, status=SessionStatus.HELD, attendance=ordered, recorded_at=now)


def record_no_show(
    process: Process, sessions: Sequence[Session], session: Session, actor: Actor, *, now: dt.datetime
) -> Session:
    require_supervisor(process, actor)
    _require_scheduled(session)
    _started(session, now)
    _past_the_trial_gate(process, session)
    _within_ordered(process, sessions, session)
    return _next(session, status=SessionStatus.NO_SHOW, recorded_at=now)


def cancel(
    process: Process,
    session: Session,
    actor: Actor,
    *,
    cancelled_by: CancelledBy,
    reason_category: ReasonCategory,
    now: dt.datetime,
) -> Session:
    require_supervisor(process, actor)
    _require_scheduled(session)
    terms = process.cancellation
    category = cancellation_category(
        session.starts_at, now, threshold_hours=terms.late_threshold_hours, cancelled_by=cancelled_by
    )
    exempt = category == "late" and terms.illness_exempt and reason_category == "illness"
    return _next(
        session,
        status=SessionStatus.CANCELLED,
        cancellation=Cancellation(
            cancelled_by=cancelled_by,
            cancelled_at=now,
            category=category,
            reason_category=reason_category,
            charge_exempt=exempt,
        ),
    )
