"""Supervision processes (työnohjausprosessit): the frame of an accepted order, as pure rules.

Invariants are cited by their number in docs/architecture.md §8.

A process is opened from the orders service's ``OrderAccepted`` event — never by a user — so no
session can exist before an order was accepted (invariant 5). It snapshots what sessions are
checked against: the participants, the ordered count (raised by approved extensions), the price
list of the order's lot and form (the allowed durations and delivery modes, invariant 7) and the
cancellation terms. It closes when the order completes, is interrupted or is cancelled.

The supervision agreement (työnohjaussopimus) is recorded by the process's supervisor once: its
parties are the buyer, the supervisor and the participants; it names when it was signed, the mid
and final evaluation dates and 0–3 trial (mapping) sessions. With trial sessions, a go/no-go
decision is required before any further session is held (invariant 5) — booking them ahead is
fine; a no-go ends the scheduling of the process.

Who acts: every write is the process's own supervisor's (a supervisor of the provider tenant whose
person id is the process's supervisor). Who reads, per the handbook's visibility table: that
supervisor and the provider's admins; the buyer's admins, the approvers of the process's cost
centre (as the orders service limits approvers to their cost centres); the participants. Anyone
else — another supervisor of the provider, an employee not taking part, any other tenant — does not
learn that the process exists.

Refusals: :class:`NotAllowed` (403), :class:`RuleBroken` (422, naming the field as the API spells
it), :class:`WrongState` (409).
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Literal

import msgspec

from shared.contracts.orders import (
    CancellationTermsFact,
    DeliveryMode,
    OrderAccepted,
    OrderFacts,
    PriceItemFact,
    SupervisionForm,
)
from shared.errors import NotAllowed, RuleBroken, WrongState

__all__ = [
    "MAX_TRIAL_SESSIONS",
    "Actor",
    "Evaluation",
    "EvaluationKind",
    "NotAllowed",
    "Process",
    "ProcessOutcome",
    "ProcessStatus",
    "Role",
    "RuleBroken",
    "SupervisionAgreement",
    "TrialDecision",
    "WrongState",
    "allowed_price",
    "approves",
    "can_read",
    "close",
    "decide_trial",
    "extend",
    "is_supervisor_of",
    "open_process",
    "record_agreement",
    "record_evaluation",
    "require_supervisor",
    "sees_participants",
    "trial_numbers",
]

MAX_TRIAL_SESSIONS = 3

ProcessOutcome = Literal["completed", "interrupted", "cancelled"]
TrialDecision = Literal["go", "no_go"]
EvaluationKind = Literal["mid", "final"]


# The refusals are the shared ones (``shared.errors``): NotAllowed (403), RuleBroken (422, its
# ``field`` the API's full name for it, ``body.startsAt``), WrongState (409: not in this state of
# the process or session).


class Role(StrEnum):
    BUYER_ADMIN = "buyer_admin"
    APPROVER = "approver"
    EMPLOYEE = "employee"
    PROVIDER_ADMIN = "provider_admin"
    SUPERVISOR = "supervisor"


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    person_id: uuid.UUID
    tenant_id: uuid.UUID
    roles: frozenset[Role] = frozenset()
    approver_of: frozenset[uuid.UUID] | None = None
    """The cost centres an approver holds (None: not looked up; an approver then sees nothing)."""


class ProcessStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class SupervisionAgreement(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The three-party agreement's frame; its goals are content and live elsewhere."""

    signed_at: dt.datetime
    mid_evaluation_on: dt.date
    final_evaluation_on: dt.date
    trial_sessions: int = 0


class Evaluation(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """That an evaluation took place, and when — never what it said."""

    kind: EvaluationKind
    done_at: dt.datetime


class Process(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    process_id: uuid.UUID
    order_id: uuid.UUID
    buyer_id: uuid.UUID
    provider_id: uuid.UUID
    supervisor_id: uuid.UUID
    cost_centre_id: uuid.UUID
    agreement_id: uuid.UUID
    agreement_number: str | None = None
    """The framework agreement's number (its contract reference)."""
    lot: str
    form: SupervisionForm
    participants: tuple[uuid.UUID, ...]
    planned_sessions: int
    """The ordered count including approved extensions."""
    price_list: tuple[PriceItemFact, ...]
    """Snapshotted at the order's approval: the allowed durations and delivery modes with their prices."""
    cancellation: CancellationTermsFact
    starts_on: dt.date
    ends_on: dt.date
    accepted_at: dt.datetime
    """When the order was accepted (its event's time): no session starts before it."""
    order_version: int
    """The order's version last applied, so a late or repeated order event changes nothing."""
    status: ProcessStatus = ProcessStatus.OPEN
    outcome: ProcessOutcome | None = None
    closed_at: dt.datetime | None = None
    agreement: SupervisionAgreement | None = None
    trial_decision: TrialDecision | None = None
    trial_decided_at: dt.datetime | None = None
    evaluations: tuple[Evaluation, ...] = ()
    version: int = 1


# --- opening and closing, from the orders service's events ---


def open_process(
    process_id: uuid.UUID, event: OrderAccepted, *, accepted_at: dt.datetime, order_version: int
) -> Process:
    """The process of an accepted order; the snapshot it needs must be in the event."""
    if event.supervisor_id is None:
        raise RuleBroken("supervisorId", "an accepted order names its supervisor")
    if event.cancellation is None:
        raise RuleBroken("cancellation", "an accepted order carries its cancellation terms")
    items = [item for item in event.price_list if item.form == event.form]
    if not items and event.price is not None:
        items = [event.price]  # an order approved before price lists were snapshotted
    if not items:
        raise RuleBroken("priceList", "an accepted order carries its price list")
    return Process(
        process_id=process_id,
        order_id=event.order_id,
        buyer_id=event.buyer_id,
        provider_id=event.provider_id,
        supervisor_id=event.supervisor_id,
        cost_centre_id=event.cost_centre_id,
        agreement_id=event.agreement_id,
        agreement_number=event.agreement_number,
        lot=event.lot,
        form=event.form,
        participants=tuple(dict.fromkeys(event.participants)),
        planned_sessions=event.planned_sessions,
        price_list=tuple(items),
        cancellation=event.cancellation,
        starts_on=event.starts_on,
        ends_on=event.ends_on,
        accepted_at=accepted_at,
        order_version=order_version,
    )


def _next(process: Process, **changes: object) -> Process:
    return msgspec.structs.replace(process, version=process.version + 1, **changes)


def extend(process: Process, event: OrderFacts, *, order_version: int) -> Process:
    """An approved extension: the ordered count becomes the order's new total (never lower)."""
    if order_version <= process.order_version:
        return process  # already applied, or older than what was
    return _next(
        process,
        planned_sessions=max(process.planned_sessions, event.planned_sessions),
        ends_on=max(process.ends_on, event.ends_on),
        order_version=order_version,
    )


def close(
    process: Process, outcome: ProcessOutcome, *, closed_at: dt.datetime, order_version: int
) -> Process:
    """The order completed, was interrupted or cancelled; a closed process stays closed."""
    if process.status is ProcessStatus.CLOSED:
        return process
    return _next(
        process,
        status=ProcessStatus.CLOSED,
        outcome=outcome,
        closed_at=closed_at,
        order_version=max(order_version, process.order_version),
    )


# --- who ---


def is_supervisor_of(process: Process, actor: Actor) -> bool:
    return (
        actor.tenant_id == process.provider_id
        and Role.SUPERVISOR in actor.roles
        and actor.person_id == process.supervisor_id
    )


def can_read(process: Process, actor: Actor) -> bool:
    if actor.tenant_id == process.provider_id:
        return Role.PROVIDER_ADMIN in actor.roles or is_supervisor_of(process, actor)
    if actor.tenant_id == process.buyer_id:
        if Role.BUYER_ADMIN in actor.roles or approves(process, actor):
            return True
        return actor.person_id in process.participants
    return False


def approves(process: Process, actor: Actor) -> bool:
    """An approver of the buyer who holds the process's cost centre (orders limits them the same way)."""
    return (
        actor.tenant_id == process.buyer_id
        and Role.APPROVER in actor.roles
        and process.cost_centre_id in (actor.approver_of or frozenset())
    )


def sees_participants(process: Process, actor: Actor) -> bool:
    """Who takes part in individual supervision is its cost centre's approver's to know, not every
    buyer admin's."""
    if process.form != "individual" or actor.tenant_id != process.buyer_id:
        return True
    return approves(process, actor) or actor.person_id in process.participants


def require_supervisor(process: Process, actor: Actor) -> None:
    """Writes are the process's own supervisor's; the process must still be open."""
    if not is_supervisor_of(process, actor):
        raise NotAllowed("only the process's supervisor records this")
    if process.status is not ProcessStatus.OPEN:
        raise WrongState("the process is closed")


def allowed_price(process: Process, duration_minutes: int, mode: DeliveryMode) -> PriceItemFact | None:
    """The snapshotted price item of this duration and delivery mode, if the price list has one."""
    for item in process.price_list:
        if item.form == process.form and item.duration_minutes == duration_minutes and item.mode == mode:
            return item
    return None


# --- the supervision agreement, the trial and evaluations ---


def _aware(value: dt.datetime, field: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise RuleBroken(field, "give a time with its offset (UTC or +02:00/+03:00)")


def record_agreement(
    process: Process, actor: Actor, agreement: SupervisionAgreement, *, now: dt.datetime
) -> Process:
    """The supervisor records the signed agreement, once."""
    require_supervisor(process, actor)
    if process.agreement is not None:
        raise WrongState("the process already has its agreement")
    _aware(agreement.signed_at, "body.signedAt")
    if agreement.signed_at > now:
        raise RuleBroken("body.signedAt", "an agreement is recorded once it is signed")
    if not 0 <= agreement.trial_sessions <= MAX_TRIAL_SESSIONS:
        raise RuleBroken("body.trialSessions", f"0 to {MAX_TRIAL_SESSIONS} trial sessions")
    if agreement.trial_sessions >= process.planned_sessions:
        raise RuleBroken("body.trialSessions", "the trial sessions are fewer than the ordered sessions")
    if agreement.final_evaluation_on <= agreement.mid_evaluation_on:
        raise RuleBroken("body.finalEvaluationOn", "the final evaluation comes after the mid-point one")
    if agreement.mid_evaluation_on < process.starts_on:
        raise RuleBroken("body.midEvaluationOn", "an evaluation falls within the process")
    return _next(process, agreement=agreement)


def decide_trial(
    process: Process,
    actor: Actor,
    decision: TrialDecision,
    *,
    now: dt.datetime,
    trial_sessions_held: int,
    trial_sessions_pending: int,
) -> Process:
    """Go or no-go once the trial sessions are behind: none still scheduled, at least one held."""
    require_supervisor(process, actor)
    if process.agreement is None or process.agreement.trial_sessions == 0:
        raise WrongState("the agreement has no trial sessions to decide on")
    if process.trial_decision is not None:
        raise WrongState("the trial is already decided")
    if trial_sessions_pending or trial_sessions_held == 0:
        raise WrongState("the decision follows the trial sessions: hold them first")
    return _next(process, trial_decision=decision, trial_decided_at=now)


def record_evaluation(
    process: Process, actor: Actor, kind: EvaluationKind, done_at: dt.datetime, *, now: dt.datetime
) -> Process:
    """That a mid-point (possibly several) or the final evaluation took place."""
    require_supervisor(process, actor)
    _aware(done_at, "body.doneAt")
    if done_at > now:
        raise RuleBroken("body.doneAt", "an evaluation is recorded once it took place")
    if done_at < process.accepted_at:
        raise RuleBroken("body.doneAt", "an evaluation takes place within the process")
    if kind == "final" and any(e.kind == "final" for e in process.evaluations):
        raise WrongState("the final evaluation is already recorded")
    return _next(process, evaluations=(*process.evaluations, Evaluation(kind=kind, done_at=done_at)))


def trial_numbers(process: Process) -> int:
    """How many trial sessions the agreement has (0 without an agreement)."""
    return process.agreement.trial_sessions if process.agreement is not None else 0
