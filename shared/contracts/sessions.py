"""Events published by the sessions service.

They carry the frame of a supervision process — ids, dates, durations, delivery mode, attendance,
the category of a cancellation, and for billable sessions the price item and cancellation terms
snapshotted from the order — so billing and the integrations service need nothing else from
sessions. They never carry content: no notes, goals, evaluations, themes, and no cancellation or
absence reason (a cancellation only says whether the order's terms exempt it from a charge).
They go to the buyer and the provider of the process.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar, Literal

import msgspec

from shared.contracts import Event, register
from shared.contracts.orders import CancellationTermsFact, DeliveryMode, PriceItemFact, SupervisionForm

__all__ = [
    "AttendanceFact",
    "CancellationCategory",
    "EvaluationDone",
    "ProcessClosed",
    "ProcessFacts",
    "ProcessStarted",
    "SessionCancelled",
    "SessionFacts",
    "SessionHeld",
    "SessionNoShow",
    "SessionRescheduled",
    "SessionScheduled",
]

ProcessOutcome = Literal["completed", "interrupted", "cancelled"]
CancellationCategory = Literal["on_time", "late", "by_supervisor"]
EvaluationKind = Literal["mid", "final"]


class ProcessFacts(Event, frozen=True, kw_only=True):
    """The frame of a process (not an event itself)."""

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
    """The ordered count including approved extensions."""


@register
class ProcessStarted(ProcessFacts, frozen=True, kw_only=True):
    """A process was opened from an accepted order."""

    event_type: ClassVar[str] = "sessions.process.started.v1"
    aggregate: ClassVar[str] = "process"


@register
class ProcessClosed(ProcessFacts, frozen=True, kw_only=True):
    """The process ended; its content is kept until the tenant's retention period ends."""

    event_type: ClassVar[str] = "sessions.process.closed.v1"
    aggregate: ClassVar[str] = "process"

    outcome: ProcessOutcome
    closed_at: dt.datetime


class AttendanceFact(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    person_id: uuid.UUID
    attended: bool


class SessionFacts(Event, frozen=True, kw_only=True):
    """A session as it is after the change (not an event itself)."""

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
    """UTC; the billing month and VAT date follow it in Europe/Helsinki."""
    duration_minutes: int
    trial: bool = False


@register
class SessionScheduled(SessionFacts, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "sessions.session.scheduled.v1"
    aggregate: ClassVar[str] = "session"


@register
class SessionRescheduled(SessionFacts, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "sessions.session.rescheduled.v1"
    aggregate: ClassVar[str] = "session"

    previous_starts_at: dt.datetime
    previous_duration_minutes: int


class BillableFacts(SessionFacts, frozen=True, kw_only=True):
    """What billing needs of a session that may be charged (not an event itself)."""

    price: PriceItemFact
    """The order's snapshotted price item for this session's form, duration and delivery mode."""
    cancellation_terms: CancellationTermsFact
    """The order's snapshotted cancellation terms."""
    participant_count: int


@register
class SessionHeld(BillableFacts, frozen=True, kw_only=True):
    """Held, with attendance per participant (the working time of those who attended)."""

    event_type: ClassVar[str] = "sessions.session.held.v1"
    aggregate: ClassVar[str] = "session"

    ends_at: dt.datetime
    attendance: list[AttendanceFact]


@register
class SessionCancelled(BillableFacts, frozen=True, kw_only=True):
    """Cancelled. ``category`` is decided by sessions from the snapshotted terms and the clock;
    ``charge_exempt`` is true when the terms exempt this late cancellation (the reason itself never
    leaves sessions). Exempt means ill, so ``charge_exempt`` is for billing only: integrations must
    not publish it, and the sessions API shows it only to the process's supervisor."""

    event_type: ClassVar[str] = "sessions.session.cancelled.v1"
    aggregate: ClassVar[str] = "session"

    category: CancellationCategory
    cancelled_at: dt.datetime
    charge_exempt: bool = False


@register
class SessionNoShow(BillableFacts, frozen=True, kw_only=True):
    """Nobody came and nobody cancelled."""

    event_type: ClassVar[str] = "sessions.session.no_show.v1"
    aggregate: ClassVar[str] = "session"


@register
class EvaluationDone(Event, frozen=True, kw_only=True):
    """A mid or final evaluation took place (that it did — never what it said)."""

    event_type: ClassVar[str] = "sessions.evaluation.done.v1"
    aggregate: ClassVar[str] = "process"

    process_id: uuid.UUID
    order_id: uuid.UUID
    buyer_id: uuid.UUID
    provider_id: uuid.UUID
    kind: EvaluationKind
    done_at: dt.datetime
