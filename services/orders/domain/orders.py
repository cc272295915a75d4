"""Supervision orders (tilaukset): the lifecycle from draft to close, as a pure state machine.

Invariants are cited by their number in docs/architecture.md §8.

Rules only, no I/O. The handlers fetch what a rule needs (the framework agreement, today's date in
Europe/Helsinki, the cost centre's budget room, the supervisor's current qualification kinds, which
cost centres the actor approves) and pass it in. Each transition returns a :class:`Transition`: the
new order at the next version and the name of the event to emit.

States::

    draft → submitted → approved | rejected
    approved → offered → accepted | declined
        (under RANKING a decline passes the offer to the next-ranked admitted provider of the lot;
         only when none is left does the order become declined for good)
    accepted → active → completed | interrupted
        (the first held session starts an accepted order; a party may start it before by hand)
    draft | submitted | approved | offered | accepted → cancelled

Extensions (jatkotilaus) do not change the status: a request is kept in ``pending_extension`` while
the order stays approved, offered, accepted or active, so sessions already ordered go on; approving it
adds the sessions to ``planned_sessions`` (the count invariant 6 checks), rejecting it drops it.

Refusals: :class:`NotAllowed` (role or relationship, 403), :class:`RuleBroken` (a value breaks a rule,
422, naming the field as the API spells it), :class:`WrongState` (409).
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Literal

import msgspec

from services.orders.domain.agreements import (
    AgreementStatus,
    CancellationTerms,
    DeliveryMode,
    FrameworkAgreement,
    Lot,
    PriceItem,
    PriceUnit,
    QualificationKind,
    SupervisionForm,
    price_for,
    price_list_for,
)
from shared.contracts import orders as events
from shared.errors import NotAllowed, RuleBroken, WrongState

__all__ = [
    "MAX_PLANNED_SESSIONS",
    "Actor",
    "BudgetOverride",
    "ConflictAcceptance",
    "ConflictDeclaration",
    "ConflictState",
    "NotAllowed",
    "Order",
    "OrderDraft",
    "OrderStatus",
    "PendingExtension",
    "Role",
    "RuleBroken",
    "SelectionMethod",
    "Transition",
    "WrongState",
    "accept",
    "accept_conflict",
    "approve",
    "approve_extension",
    "assign_supervisor",
    "can_approve",
    "can_decline",
    "can_read",
    "cancel",
    "check_priced",
    "committed_cents",
    "complete",
    "declare_conflict",
    "decline",
    "interrupt",
    "new_order",
    "offer",
    "order_number",
    "reject",
    "reject_extension",
    "request_extension",
    "seen_by",
    "sees_participants",
    "start",
    "start_by_session",
    "submit",
]

MAX_PLANNED_SESSIONS = 100
MAX_JUSTIFICATION_LENGTH = 2000


# --- errors ---


# The refusals are the shared ones (``shared.errors``): NotAllowed (403), RuleBroken (422, its
# ``field`` as the API spells it; the use case says where the request carries it), WrongState
# (409: not possible from the order's current status).


# --- values ---


class Role(StrEnum):
    """Tenant roles, spelt as the organisations service spells them."""

    BUYER_ADMIN = "buyer_admin"
    APPROVER = "approver"
    EMPLOYEE = "employee"
    PROVIDER_ADMIN = "provider_admin"
    SUPERVISOR = "supervisor"


class OrderStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    ACTIVE = "active"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


class SelectionMethod(StrEnum):
    RANKING = "ranking"
    MINI_COMPETITION = "mini_competition"
    NEEDS_BASED = "needs_based"
    """Needs a written justification."""
    INTERNAL = "internal"


class ConflictState(StrEnum):
    UNDECLARED = "undeclared"
    NONE = "none"
    """The supervisor declared no prior relationship with any participant."""
    DECLARED = "declared"


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who acts, with the relationship facts the caller looked up."""

    person_id: uuid.UUID
    tenant_id: uuid.UUID
    roles: frozenset[Role] = frozenset()
    approves_cost_centres: frozenset[uuid.UUID] = frozenset()
    """The cost centres this person is an approver of (read model of organisations)."""


class ConflictAcceptance(msgspec.Struct, frozen=True, kw_only=True):
    """Who accepted a declared conflict, as which party, and when (UTC)."""

    by: uuid.UUID | None
    """``None`` only in a view for someone who may not see who takes part (:func:`seen_by`)."""
    party: Literal["approver", "participant"]
    """``approver`` (of the cost centre, for the buyer) or ``participant`` (an affected one)."""
    at: dt.datetime


class ConflictDeclaration(msgspec.Struct, frozen=True, kw_only=True):
    state: ConflictState = ConflictState.UNDECLARED
    declared_by: uuid.UUID | None = None
    related_participants: frozenset[uuid.UUID] = frozenset()
    """Participants the supervisor has a prior relationship with."""
    accepted_by_buyer: uuid.UUID | None = None
    """The approver who accepted the declared conflict."""
    accepted_by_participants: frozenset[uuid.UUID] = frozenset()
    acceptances: tuple[ConflictAcceptance, ...] = ()
    """Every acceptance in the order made (a repeated one is not recorded again)."""

    @property
    def cleared(self) -> bool:
        if self.state is ConflictState.NONE:
            return True
        if self.state is ConflictState.UNDECLARED:
            return False
        return (
            self.accepted_by_buyer is not None and self.related_participants <= self.accepted_by_participants
        )


class BudgetOverride(msgspec.Struct, frozen=True, kw_only=True):
    """An audited approval beyond the cost centre's budget room."""

    by: uuid.UUID
    reason: str
    cost_cents: int
    room_cents: int


class PendingExtension(msgspec.Struct, frozen=True, kw_only=True):
    additional_sessions: int
    requested_by: uuid.UUID


class OrderDraft(msgspec.Struct, frozen=True, kw_only=True):
    """What the orderer writes."""

    cost_centre_id: uuid.UUID
    agreement_id: uuid.UUID
    lot: str
    """The lot's name in the agreement."""
    form: SupervisionForm
    participants: tuple[uuid.UUID, ...]
    planned_sessions: int
    duration_minutes: int
    starts_on: dt.date
    ends_on: dt.date
    mode: DeliveryMode
    selection: SelectionMethod
    justification: str | None = None
    provider_id: uuid.UUID
    supervisor_id: uuid.UUID | None = None
    """May be left for the provider to assign (typical under RANKING)."""


class Order(msgspec.Struct, frozen=True, kw_only=True):
    order_id: uuid.UUID
    buyer_tenant_id: uuid.UUID
    cost_centre_id: uuid.UUID
    agreement_id: uuid.UUID
    lot: str
    form: SupervisionForm
    participants: tuple[uuid.UUID, ...]
    planned_sessions: int
    duration_minutes: int
    starts_on: dt.date
    ends_on: dt.date
    mode: DeliveryMode
    selection: SelectionMethod
    justification: str | None = None
    provider_id: uuid.UUID
    supervisor_id: uuid.UUID | None = None
    """Until the provider assigns one (``supervisor_assigned``), only the orderer's wish."""
    supervisor_assigned: bool = False
    """The provider's admin assigned ``supervisor_id`` after the offer (checking the qualifications)."""
    status: OrderStatus = OrderStatus.DRAFT
    requested_by: uuid.UUID
    approved_by: uuid.UUID | None = None
    price: PriceItem | None = None
    """Snapshot at approval."""
    cancellation: CancellationTerms | None = None
    """Snapshot at approval."""
    lot_terms: Lot | None = None
    """Snapshot at approval: the lot's admitted providers with their ranks and required qualifications,
    which the provider's side (assigning a supervisor, declining under ranking) decides by."""
    price_list: tuple[PriceItem, ...] = ()
    """Snapshot at approval: every price of the lot and form in force on the start date."""
    payment_terms_days: int | None = None
    """Snapshot at approval: the agreement's payment terms."""
    agreement_number: str | None = None
    """Snapshot at approval: the agreement's number (the contract reference on invoices)."""
    budget_override: BudgetOverride | None = None
    declined_by_providers: tuple[uuid.UUID, ...] = ()
    conflict: ConflictDeclaration = ConflictDeclaration()
    pending_extension: PendingExtension | None = None
    cancelled_from: OrderStatus | None = None
    """The status a cancelled order was cancelled in (an offered one stays the provider's to see)."""
    order_number: str | None = None
    """The buyer's human-readable number, e.g. ``TO-2027-000123`` (:func:`order_number`); given at
    creation, never changed."""
    version: int = 1


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    order: Order
    event: type[events.OrderFacts]
    """The event to emit, e.g. :class:`~shared.contracts.orders.OrderApproved`."""


# --- relationships ---


def _approves(order: Order, actor: Actor) -> bool:
    return (
        actor.tenant_id == order.buyer_tenant_id
        and Role.APPROVER in actor.roles
        and order.cost_centre_id in actor.approves_cost_centres
    )


def _is_participant(order: Order, actor: Actor) -> bool:
    return actor.tenant_id == order.buyer_tenant_id and actor.person_id in order.participants


def _is_provider_admin(order: Order, actor: Actor) -> bool:
    return actor.tenant_id == order.provider_id and Role.PROVIDER_ADMIN in actor.roles


def _is_supervisor(order: Order, actor: Actor) -> bool:
    return (
        order.supervisor_id is not None
        and order.supervisor_assigned
        and actor.tenant_id == order.provider_id
        and Role.SUPERVISOR in actor.roles
        and actor.person_id == order.supervisor_id
    )


def _for_provider(order: Order, actor: Actor) -> bool:
    return _is_provider_admin(order, actor) or _is_supervisor(order, actor)


def can_decline(order: Order, actor: Actor) -> bool:
    """Only the provider's admin or its supervisor, of the provider the order is offered to."""
    return _for_provider(order, actor)


def can_approve(order: Order, actor: Actor) -> bool:
    """An approver of the order's cost centre, in the buyer's tenant."""
    return _approves(order, actor)


def can_read(order: Order, actor: Actor) -> bool:
    """Buyer admins and the cost centre's approvers, participants, the provider's admin, the supervisor."""
    if actor.tenant_id == order.buyer_tenant_id and Role.BUYER_ADMIN in actor.roles:
        return True
    return _approves(order, actor) or _is_participant(order, actor) or _for_provider(order, actor)


def sees_participants(order: Order, actor: Actor) -> bool:
    """Who takes part in individual supervision is its cost centre's approver's (and the participant's
    own) to know, not every buyer admin's (domain.md, who may see what); as sessions decides it."""
    if order.form is not SupervisionForm.INDIVIDUAL or actor.tenant_id != order.buyer_tenant_id:
        return True
    return _approves(order, actor) or _is_participant(order, actor)


def seen_by(order: Order, actor: Actor) -> Order:
    """The order as ``actor`` may see it: without who takes part (an empty ``participants``, the
    affected participants and their acceptances) for whoever :func:`sees_participants` refuses."""
    if sees_participants(order, actor):
        return order
    conflict = order.conflict
    hidden = msgspec.structs.replace(
        conflict,
        related_participants=frozenset(),
        accepted_by_participants=frozenset(),
        acceptances=tuple(
            a if a.party != "participant" else msgspec.structs.replace(a, by=None)
            for a in conflict.acceptances
        ),
    )
    return msgspec.structs.replace(order, participants=(), conflict=hidden)


def _require(allowed: bool, what: str) -> None:
    if not allowed:
        raise NotAllowed(what)


def _require_state(order: Order, *states: OrderStatus) -> None:
    if order.status not in states:
        expected = ", ".join(states)
        raise WrongState(f"the order is {order.status}; this needs {expected}")


def _next(order: Order, event: type[events.OrderFacts], **changes: object) -> Transition:
    new = msgspec.structs.replace(order, version=order.version + 1, **changes)
    return Transition(order=new, event=event)


# --- creating ---


def _check_draft(draft: OrderDraft) -> None:
    if not draft.participants:
        raise RuleBroken("participants", "an order has at least one participant")
    if len(set(draft.participants)) != len(draft.participants):
        raise RuleBroken("participants", "a participant is listed twice")
    if draft.form is SupervisionForm.INDIVIDUAL and len(draft.participants) != 1:
        raise RuleBroken("participants", "individual supervision has exactly one participant")
    if draft.form is SupervisionForm.PAIR and len(draft.participants) != 2:
        raise RuleBroken("participants", "pair supervision has exactly two participants")
    if not 1 <= draft.planned_sessions <= MAX_PLANNED_SESSIONS:
        raise RuleBroken("plannedSessions", f"must be 1–{MAX_PLANNED_SESSIONS}")
    if draft.duration_minutes <= 0:
        raise RuleBroken("durationMinutes", "must be positive")
    if draft.ends_on < draft.starts_on:
        raise RuleBroken("endsOn", "must not be before startsOn")
    if draft.justification is not None and len(draft.justification) > MAX_JUSTIFICATION_LENGTH:
        raise RuleBroken("justification", f"must be at most {MAX_JUSTIFICATION_LENGTH} characters")
    if draft.selection is SelectionMethod.NEEDS_BASED and not (draft.justification or "").strip():
        raise RuleBroken("justification", "a needs-based choice needs a written justification")


def order_number(year: int, sequence: int) -> str:
    """``TO-<year of creation in Europe/Helsinki>-<the buyer's sequence of that year, six digits>``."""
    if sequence < 1:
        raise ValueError("an order number's sequence starts at 1")
    return f"TO-{year}-{sequence:06d}"


def check_priced(draft: OrderDraft, agreement: FrameworkAgreement) -> None:
    """The price list of the draft's lot prices its form, duration and delivery mode (the rest of the
    agreement — its state, validity, the lot and form — is approval's to check).

    Priced on the start date when the agreement is valid then; otherwise by any price of the kind, so
    a period outside the validity is refused at approval as such, not as a missing price.
    """
    if price_for(agreement, draft.lot, draft.form, draft.duration_minutes, draft.mode, draft.starts_on):
        return
    validity = agreement.content.validity
    kind = [
        item
        for item in agreement.content.price_items
        if item.lot == draft.lot and item.form == draft.form and item.mode == draft.mode
    ]
    if not validity.starts_on <= draft.starts_on <= validity.hard_end_on and any(
        item.duration_minutes == draft.duration_minutes for item in kind
    ):
        return
    allowed = sorted({item.duration_minutes for item in kind if item.valid_from <= draft.starts_on})
    offered = ", ".join(str(minutes) for minutes in allowed) or "none"
    raise RuleBroken(
        "durationMinutes",
        f"the lot's price list has no price for this form, duration and delivery mode "
        f"(priced durations: {offered})",
    )


def new_order(order_id: uuid.UUID, buyer_tenant_id: uuid.UUID, draft: OrderDraft, actor: Actor) -> Order:
    """A draft, by an approver of the cost centre or by an employee who takes part in it."""
    _require(actor.tenant_id == buyer_tenant_id, "only the buyer's people order")
    approver = Role.APPROVER in actor.roles and draft.cost_centre_id in actor.approves_cost_centres
    participant = Role.EMPLOYEE in actor.roles and actor.person_id in draft.participants
    _require(approver or participant, "only an approver of the cost centre or a participant orders")
    _check_draft(draft)
    fields = {f: getattr(draft, f) for f in draft.__struct_fields__}
    return Order(order_id=order_id, buyer_tenant_id=buyer_tenant_id, requested_by=actor.person_id, **fields)


def submit(order: Order, actor: Actor) -> Transition:
    _require_state(order, OrderStatus.DRAFT)
    _require(
        actor.tenant_id == order.buyer_tenant_id
        and (actor.person_id == order.requested_by or _approves(order, actor)),
        "only the orderer or an approver of the cost centre submits",
    )
    return _next(order, events.OrderSubmitted, status=OrderStatus.SUBMITTED)


# --- approving ---


def _lot(order: Order, agreement: FrameworkAgreement, today: dt.date) -> Lot:
    if agreement.agreement_id != order.agreement_id:
        raise RuleBroken("agreementId", "not the order's agreement")
    if agreement.status is not AgreementStatus.ACTIVE:
        raise RuleBroken("agreementId", f"the agreement is {agreement.status}")
    validity = agreement.content.validity
    if not validity.starts_on <= today <= validity.hard_end_on:
        raise RuleBroken("agreementId", "the agreement is not valid today")
    if order.starts_on < validity.starts_on or order.ends_on > validity.hard_end_on:
        raise RuleBroken("startsOn", "the period is not inside the agreement's validity")
    lot = next((lot for lot in agreement.content.lots if lot.name == order.lot), None)
    if lot is None:
        raise RuleBroken("lot", "no such lot in the agreement")
    if order.form not in lot.forms:
        raise RuleBroken("form", "the lot does not offer this form")
    return lot


def _check_admitted(lot: Lot, provider_id: uuid.UUID) -> None:
    if all(p.provider_id != provider_id for p in lot.providers):
        raise RuleBroken("providerId", "the provider is not admitted to the lot")


def _check_qualified(lot: Lot, qualifications: frozenset[QualificationKind]) -> None:
    missing = lot.required_qualifications - qualifications
    if missing:
        names = ", ".join(sorted(missing))
        raise RuleBroken("supervisorId", f"the supervisor lacks the lot's required qualifications: {names}")


def _cost_times_60(price: PriceItem, sessions: int, duration_minutes: int) -> int:
    """Cost in cents × 60, exact (per-hour prices need not divide evenly)."""
    if price.unit is PriceUnit.PER_HOUR:
        return sessions * price.net_price_cents * duration_minutes
    return sessions * price.net_price_cents * 60


def committed_cents(order: Order) -> int | None:
    """The cost an approved order holds against its cost centre's budget (rounded up), from its snapshot."""
    if order.price is None:
        return None
    return -(-_cost_times_60(order.price, order.planned_sessions, order.duration_minutes) // 60)


def _check_budget(
    actor: Actor, cost_times_60: int, room_cents: int, override_reason: str | None
) -> BudgetOverride | None:
    if cost_times_60 <= room_cents * 60:
        return None
    if override_reason is None or not override_reason.strip():
        raise RuleBroken("budget", "the cost exceeds the cost centre's budget room")
    cost = -(-cost_times_60 // 60)
    return BudgetOverride(
        by=actor.person_id, reason=override_reason.strip(), cost_cents=cost, room_cents=room_cents
    )


def approve(
    order: Order,
    actor: Actor,
    *,
    agreement: FrameworkAgreement,
    today: dt.date,
    budget_room_cents: int,
    override_reason: str | None = None,
) -> Transition:
    """Approve a submitted order; snapshots the price item and list, the cancellation and payment
    terms, the agreement's number and the lot (providers, ranks, required qualifications).

    A supervisor named in the order is only a wish: the provider assigns one after the offer, whose
    qualifications are checked then. ``override_reason`` approves beyond the budget room, recorded as
    a :class:`BudgetOverride`.
    """
    _require_state(order, OrderStatus.SUBMITTED)
    _require(_approves(order, actor), "only an approver of the order's cost centre approves")
    if order.selection is SelectionMethod.NEEDS_BASED and not (order.justification or "").strip():
        raise RuleBroken("justification", "a needs-based choice needs a written justification")
    lot = _lot(order, agreement, today)
    _check_admitted(lot, order.provider_id)
    price = price_for(agreement, order.lot, order.form, order.duration_minutes, order.mode, order.starts_on)
    if price is None:
        raise RuleBroken("durationMinutes", "the price list has no price for this form, duration and mode")
    override = _check_budget(
        actor,
        _cost_times_60(price, order.planned_sessions, order.duration_minutes),
        budget_room_cents,
        override_reason,
    )
    return _next(
        order,
        events.OrderApproved,
        status=OrderStatus.APPROVED,
        approved_by=actor.person_id,
        price=price,
        cancellation=agreement.content.cancellation,
        lot_terms=lot,
        price_list=price_list_for(agreement, order.lot, order.form, order.starts_on),
        payment_terms_days=agreement.content.payment_terms_days,
        agreement_number=agreement.content.number,
        budget_override=override,
    )


def reject(order: Order, actor: Actor) -> Transition:
    _require_state(order, OrderStatus.SUBMITTED)
    _require(_approves(order, actor), "only an approver of the order's cost centre rejects")
    return _next(order, events.OrderRejected, status=OrderStatus.REJECTED)


# --- offering and acceptance ---


def offer(order: Order, actor: Actor) -> Transition:
    _require_state(order, OrderStatus.APPROVED)
    _require(_approves(order, actor), "only an approver of the order's cost centre offers")
    return _next(order, events.OrderOffered, status=OrderStatus.OFFERED)


def assign_supervisor(
    order: Order,
    actor: Actor,
    *,
    supervisor_id: uuid.UUID,
    supervisor_qualifications: frozenset[QualificationKind],
) -> Transition:
    """The provider admin assigns (or changes) the supervisor of an offered order.

    The qualifications are checked against the lot snapshotted at approval. Assigning the supervisor
    the orderer wished for confirms the wish; another one needs a new conflict declaration.
    """
    _require_state(order, OrderStatus.OFFERED)
    _require(_is_provider_admin(order, actor), "only the provider's admin assigns a supervisor")
    _check_qualified(_lot_terms(order), supervisor_qualifications)
    if supervisor_id == order.supervisor_id:
        if order.supervisor_assigned:
            return Transition(order=order, event=events.OrderSupervisorAssigned)
        return _next(order, events.OrderSupervisorAssigned, supervisor_assigned=True)
    return _next(
        order,
        events.OrderSupervisorAssigned,
        supervisor_id=supervisor_id,
        supervisor_assigned=True,
        conflict=ConflictDeclaration(),
    )


def _lot_terms(order: Order) -> Lot:
    if order.lot_terms is None:  # pragma: no cover - every approved order has the snapshot
        raise WrongState("the order has no snapshot of its lot")
    return order.lot_terms


def declare_conflict(order: Order, actor: Actor, related_participants: frozenset[uuid.UUID]) -> Transition:
    """The supervisor declares prior relationships with participants (empty: none)."""
    _require_state(order, OrderStatus.OFFERED)
    _require(_is_supervisor(order, actor), "only the order's supervisor declares")
    strangers = related_participants - set(order.participants)
    if strangers:
        raise RuleBroken("relatedParticipants", "names someone who does not take part")
    declaration = ConflictDeclaration(
        state=ConflictState.DECLARED if related_participants else ConflictState.NONE,
        declared_by=actor.person_id,
        related_participants=related_participants,
    )
    return _next(order, events.OrderConflictDeclared, conflict=declaration)


def accept_conflict(order: Order, actor: Actor, *, now: dt.datetime) -> Transition:
    """The buyer (an approver of the cost centre) or an affected participant accepts a declared
    conflict; who, as which party and when is kept in ``conflict.acceptances``. The buyer's acceptance
    is one approver's: a second approver accepting again changes nothing."""
    _require_state(order, OrderStatus.OFFERED)
    conflict = order.conflict
    if conflict.state is not ConflictState.DECLARED:
        raise WrongState("no declared conflict to accept")
    if _approves(order, actor):
        if conflict.accepted_by_buyer is not None:
            return Transition(order=order, event=events.OrderConflictAccepted)
        party: Literal["approver", "participant"] = "approver"
        conflict = msgspec.structs.replace(conflict, accepted_by_buyer=actor.person_id)
    elif _is_participant(order, actor) and actor.person_id in conflict.related_participants:
        if actor.person_id in conflict.accepted_by_participants:
            return Transition(order=order, event=events.OrderConflictAccepted)
        party = "participant"
        conflict = msgspec.structs.replace(
            conflict, accepted_by_participants=conflict.accepted_by_participants | {actor.person_id}
        )
    else:
        raise NotAllowed("only an approver of the cost centre or an affected participant accepts a conflict")
    acceptance = ConflictAcceptance(by=actor.person_id, party=party, at=now)
    conflict = msgspec.structs.replace(conflict, acceptances=(*conflict.acceptances, acceptance))
    return _next(order, events.OrderConflictAccepted, conflict=conflict)


def accept(order: Order, actor: Actor) -> Transition:
    _require_state(order, OrderStatus.OFFERED)
    _require(_for_provider(order, actor), "only the provider's admin or the order's supervisor accepts")
    if order.supervisor_id is None or not order.supervisor_assigned:
        raise RuleBroken("supervisorId", "the provider must assign the supervisor before acceptance")
    if order.conflict.state is ConflictState.UNDECLARED:
        raise RuleBroken("conflict", "the supervisor has not declared prior relationships")
    if not order.conflict.cleared:
        raise RuleBroken(
            "conflict", "the declared conflict is not accepted by the buyer and the participants"
        )
    return _next(order, events.OrderAccepted, status=OrderStatus.ACCEPTED)


def _next_ranked(order: Order, declined: tuple[uuid.UUID, ...]) -> uuid.UUID | None:
    lot = _lot_terms(order)
    ranked = sorted((p for p in lot.providers if p.rank is not None), key=lambda p: p.rank or 0)
    return next((p.provider_id for p in ranked if p.provider_id not in declined), None)


def decline(order: Order, actor: Actor) -> Transition:
    """The provider declines; under RANKING the offer passes to the next-ranked admitted provider of
    the lot as snapshotted at approval.

    The passed offer has no supervisor: the next provider's admin assigns one.
    """
    _require_state(order, OrderStatus.OFFERED)
    _require(_for_provider(order, actor), "only the provider's admin or the order's supervisor declines")
    declined = (*order.declined_by_providers, order.provider_id)
    if order.selection is SelectionMethod.RANKING:
        nxt = _next_ranked(order, declined)
        if nxt is not None:
            return _next(
                order,
                events.OrderOffered,
                provider_id=nxt,
                supervisor_id=None,
                supervisor_assigned=False,
                conflict=ConflictDeclaration(),
                declined_by_providers=declined,
            )
    return _next(order, events.OrderDeclined, status=OrderStatus.DECLINED, declined_by_providers=declined)


# --- running and closing ---


def start(order: Order, actor: Actor) -> Transition:
    """Optional: a party marks the accepted process begun before its first session is held (the first
    held session starts it anyway, :func:`start_by_session`)."""
    _require_state(order, OrderStatus.ACCEPTED)
    _require(_for_provider(order, actor) or _approves(order, actor), "only the parties to the order start it")
    return _next(order, events.OrderStarted, status=OrderStatus.ACTIVE)


def start_by_session(order: Order) -> Transition | None:
    """The first held session makes an accepted order an active process; ``None`` when the order is
    past accepted already (started, closed) or not yet there, so a later session changes nothing."""
    if order.status is not OrderStatus.ACCEPTED:
        return None
    return _next(order, events.OrderStarted, status=OrderStatus.ACTIVE)


def complete(order: Order, actor: Actor) -> Transition:
    _require_state(order, OrderStatus.ACTIVE)
    _require(
        _for_provider(order, actor) or _approves(order, actor), "only the parties to the order complete it"
    )
    return _next(order, events.OrderCompleted, status=OrderStatus.COMPLETED, pending_extension=None)


def interrupt(order: Order, actor: Actor) -> Transition:
    """Either side interrupts an active process."""
    _require_state(order, OrderStatus.ACTIVE)
    _require(
        _for_provider(order, actor) or _approves(order, actor), "only the parties to the order interrupt it"
    )
    return _next(order, events.OrderInterrupted, status=OrderStatus.INTERRUPTED, pending_extension=None)


def cancel(order: Order, actor: Actor) -> Transition:
    """The buyer cancels before the process starts; the orderer may cancel their own draft or request."""
    _require_state(
        order,
        OrderStatus.DRAFT,
        OrderStatus.SUBMITTED,
        OrderStatus.APPROVED,
        OrderStatus.OFFERED,
        OrderStatus.ACCEPTED,
    )
    own_request = (
        order.status in (OrderStatus.DRAFT, OrderStatus.SUBMITTED)
        and actor.tenant_id == order.buyer_tenant_id
        and actor.person_id == order.requested_by
    )
    _require(own_request or _approves(order, actor), "only an approver of the cost centre cancels")
    return _next(
        order,
        events.OrderCancelled,
        status=OrderStatus.CANCELLED,
        pending_extension=None,
        cancelled_from=order.status,
    )


# --- extensions ---

_EXTENDABLE = (OrderStatus.APPROVED, OrderStatus.OFFERED, OrderStatus.ACCEPTED, OrderStatus.ACTIVE)


def request_extension(order: Order, actor: Actor, additional_sessions: int) -> Transition:
    _require_state(order, *_EXTENDABLE)
    _require(
        _approves(order, actor) or _for_provider(order, actor) or _is_participant(order, actor),
        "only the parties to the order request an extension",
    )
    if order.pending_extension is not None:
        raise WrongState("an extension is already pending")
    if additional_sessions < 1 or order.planned_sessions + additional_sessions > MAX_PLANNED_SESSIONS:
        raise RuleBroken(
            "additionalSessions",
            f"must be at least 1 and keep the order at most {MAX_PLANNED_SESSIONS} sessions",
        )
    pending = PendingExtension(additional_sessions=additional_sessions, requested_by=actor.person_id)
    return _next(order, events.OrderExtensionRequested, pending_extension=pending)


def approve_extension(
    order: Order,
    actor: Actor,
    *,
    agreement: FrameworkAgreement,
    today: dt.date,
    budget_room_cents: int,
    override_reason: str | None = None,
) -> Transition:
    """A new approval: authority, a valid lot, budget room for the added sessions at the snapshot price."""
    _require_state(order, *_EXTENDABLE)
    if order.pending_extension is None:
        raise WrongState("no extension is pending")
    _require(_approves(order, actor), "only an approver of the order's cost centre approves an extension")
    _lot(order, agreement, today)
    if order.price is None:  # pragma: no cover - every approved order has a snapshot
        raise WrongState("the order has no price snapshot")
    added = order.pending_extension.additional_sessions
    override = _check_budget(
        actor, _cost_times_60(order.price, added, order.duration_minutes), budget_room_cents, override_reason
    )
    return _next(
        order,
        events.OrderExtended,
        planned_sessions=order.planned_sessions + added,
        pending_extension=None,
        budget_override=override or order.budget_override,
    )


def reject_extension(order: Order, actor: Actor) -> Transition:
    if order.pending_extension is None:
        raise WrongState("no extension is pending")
    _require(_approves(order, actor), "only an approver of the order's cost centre rejects an extension")
    return _next(order, events.OrderExtensionRejected, pending_extension=None)
