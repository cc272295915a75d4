"""The supervision order lifecycle: every transition, every refusal, and the snapshots at approval."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import pytest

from services.orders.domain.agreements import (
    AdmittedProvider,
    AgreementContent,
    AgreementStatus,
    CancellationTerms,
    DeliveryMode,
    FrameworkAgreement,
    Lot,
    PriceItem,
    PriceUnit,
    QualificationKind,
    SupervisionForm,
    Validity,
)
from services.orders.domain.orders import (
    Actor,
    ConflictAcceptance,
    ConflictState,
    NotAllowed,
    Order,
    OrderDraft,
    OrderStatus,
    Role,
    RuleBroken,
    SelectionMethod,
    WrongState,
    accept,
    accept_conflict,
    approve,
    approve_extension,
    assign_supervisor,
    can_read,
    cancel,
    check_priced,
    complete,
    declare_conflict,
    decline,
    interrupt,
    new_order,
    offer,
    order_number,
    reject,
    reject_extension,
    request_extension,
    seen_by,
    start,
    start_by_session,
    submit,
)
from shared.contracts import orders as events

TODAY = dt.date(2026, 3, 1)
NOW = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
BUYER = uuid.uuid4()
COST_CENTRE = uuid.uuid4()
OTHER_CENTRE = uuid.uuid4()
AGREEMENT = uuid.uuid4()
PROVIDER_1 = uuid.uuid4()
PROVIDER_2 = uuid.uuid4()
PROVIDER_3 = uuid.uuid4()
SUPERVISOR = uuid.uuid4()
PARTICIPANT = uuid.uuid4()
PARTICIPANT_2 = uuid.uuid4()
QUALIFIED = frozenset({QualificationKind.STORY_TRAINING})
ROOM = 10_000_00

APPROVER = Actor(
    person_id=uuid.uuid4(),
    tenant_id=BUYER,
    roles=frozenset({Role.APPROVER}),
    approves_cost_centres=frozenset({COST_CENTRE}),
)
OTHER_APPROVER = Actor(
    person_id=uuid.uuid4(),
    tenant_id=BUYER,
    roles=frozenset({Role.APPROVER}),
    approves_cost_centres=frozenset({OTHER_CENTRE}),
)
BUYER_ADMIN = Actor(person_id=uuid.uuid4(), tenant_id=BUYER, roles=frozenset({Role.BUYER_ADMIN}))
EMPLOYEE = Actor(person_id=PARTICIPANT, tenant_id=BUYER, roles=frozenset({Role.EMPLOYEE}))
EMPLOYEE_2 = Actor(person_id=PARTICIPANT_2, tenant_id=BUYER, roles=frozenset({Role.EMPLOYEE}))
OUTSIDER = Actor(person_id=uuid.uuid4(), tenant_id=BUYER, roles=frozenset({Role.EMPLOYEE}))
SUPERVISOR_ACTOR = Actor(person_id=SUPERVISOR, tenant_id=PROVIDER_1, roles=frozenset({Role.SUPERVISOR}))
PROVIDER_ADMIN = Actor(person_id=uuid.uuid4(), tenant_id=PROVIDER_1, roles=frozenset({Role.PROVIDER_ADMIN}))
PROVIDER_2_ADMIN = Actor(person_id=uuid.uuid4(), tenant_id=PROVIDER_2, roles=frozenset({Role.PROVIDER_ADMIN}))

PRICE = PriceItem(
    lot="Yksilö",
    form=SupervisionForm.INDIVIDUAL,
    duration_minutes=90,
    mode=DeliveryMode.REMOTE,
    unit=PriceUnit.PER_SESSION,
    net_price_cents=150_00,
    valid_from=dt.date(2026, 1, 1),
)
TERMS = CancellationTerms(late_threshold_hours=48, late_cancellation_charge_percent=50)


def _agreement(**overrides: object) -> FrameworkAgreement:
    content = AgreementContent(
        number="HVA-2026-1",
        title="Työnohjaus",
        validity=Validity(
            starts_on=dt.date(2026, 1, 1),
            first_term_ends_on=dt.date(2027, 12, 31),
            hard_end_on=dt.date(2029, 12, 31),
        ),
        lots=(
            Lot(
                name="Yksilö",
                forms=(SupervisionForm.INDIVIDUAL, SupervisionForm.PAIR),
                region="Uusimaa",
                required_qualifications=QUALIFIED,
                providers=(
                    AdmittedProvider(provider_id=PROVIDER_2, rank=2),
                    AdmittedProvider(provider_id=PROVIDER_1, rank=1),
                    AdmittedProvider(provider_id=PROVIDER_3, rank=3),
                ),
            ),
        ),
        price_items=(
            msgspec.structs.replace(PRICE, net_price_cents=120_00, valid_from=dt.date(2025, 1, 1)),
            PRICE,
            msgspec.structs.replace(
                PRICE, form=SupervisionForm.PAIR, unit=PriceUnit.PER_HOUR, net_price_cents=100_00
            ),
        ),
        cancellation=TERMS,
    )
    fields: dict[str, object] = {
        "agreement_id": AGREEMENT,
        "status": AgreementStatus.ACTIVE,
        "content": content,
    }
    fields.update(overrides)
    return FrameworkAgreement(**fields)  # type: ignore[arg-type]


AGREEMENT_ACTIVE = _agreement()


def _draft(**overrides: object) -> OrderDraft:
    fields: dict[str, object] = {
        "cost_centre_id": COST_CENTRE,
        "agreement_id": AGREEMENT,
        "lot": "Yksilö",
        "form": SupervisionForm.INDIVIDUAL,
        "participants": (PARTICIPANT,),
        "planned_sessions": 10,
        "duration_minutes": 90,
        "starts_on": dt.date(2026, 4, 1),
        "ends_on": dt.date(2026, 12, 31),
        "mode": DeliveryMode.REMOTE,
        "selection": SelectionMethod.RANKING,
        "provider_id": PROVIDER_1,
        "supervisor_id": SUPERVISOR,
    }
    fields.update(overrides)
    return OrderDraft(**fields)  # type: ignore[arg-type]


def _submitted(**overrides: object) -> Order:
    order = new_order(uuid.uuid4(), BUYER, _draft(**overrides), APPROVER)
    return submit(order, APPROVER).order


def _approved(**overrides: object) -> Order:
    return approve(
        _submitted(**overrides),
        APPROVER,
        agreement=AGREEMENT_ACTIVE,
        today=TODAY,
        budget_room_cents=ROOM,
    ).order


def _offered(**overrides: object) -> Order:
    return offer(_approved(**overrides), APPROVER).order


def _assigned(**overrides: object) -> Order:
    """Offered, and the provider's admin assigned the supervisor the orderer wished for."""
    return assign_supervisor(
        _offered(**overrides), PROVIDER_ADMIN, supervisor_id=SUPERVISOR, supervisor_qualifications=QUALIFIED
    ).order


def _accepted() -> Order:
    order = declare_conflict(_assigned(), SUPERVISOR_ACTOR, frozenset()).order
    return accept(order, SUPERVISOR_ACTOR).order


def _active() -> Order:
    return start(_accepted(), SUPERVISOR_ACTOR).order


# --- creating and submitting ---


def test_an_approver_creates_a_draft() -> None:
    order = new_order(uuid.uuid4(), BUYER, _draft(), APPROVER)
    assert order.status is OrderStatus.DRAFT
    assert order.requested_by == APPROVER.person_id
    assert order.version == 1
    assert order.conflict.state is ConflictState.UNDECLARED


def test_an_employee_requests_and_submits_their_own_order() -> None:
    order = new_order(uuid.uuid4(), BUYER, _draft(), EMPLOYEE)
    moved = submit(order, EMPLOYEE)
    assert moved.event is events.OrderSubmitted
    assert moved.order.status is OrderStatus.SUBMITTED
    assert moved.order.version == 2


def test_an_employee_cannot_order_for_others() -> None:
    with pytest.raises(NotAllowed):
        new_order(uuid.uuid4(), BUYER, _draft(), OUTSIDER)


def test_an_approver_of_another_cost_centre_cannot_order() -> None:
    with pytest.raises(NotAllowed):
        new_order(uuid.uuid4(), BUYER, _draft(), OTHER_APPROVER)


def test_another_tenant_cannot_order() -> None:
    with pytest.raises(NotAllowed):
        new_order(uuid.uuid4(), BUYER, _draft(), PROVIDER_ADMIN)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"participants": ()}, "participants"),
        ({"participants": (PARTICIPANT, PARTICIPANT_2)}, "participants"),
        ({"form": SupervisionForm.PAIR}, "participants"),
        ({"form": SupervisionForm.GROUP, "participants": (PARTICIPANT, PARTICIPANT)}, "participants"),
        ({"planned_sessions": 0}, "plannedSessions"),
        ({"planned_sessions": 101}, "plannedSessions"),
        ({"duration_minutes": 0}, "durationMinutes"),
        ({"ends_on": dt.date(2026, 3, 31)}, "endsOn"),
        ({"selection": SelectionMethod.NEEDS_BASED}, "justification"),
        ({"selection": SelectionMethod.NEEDS_BASED, "justification": "  "}, "justification"),
    ],
)
def test_a_draft_that_breaks_a_rule_is_refused(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(RuleBroken) as caught:
        new_order(uuid.uuid4(), BUYER, _draft(**overrides), APPROVER)
    assert caught.value.field == field


def test_a_stranger_cannot_submit() -> None:
    order = new_order(uuid.uuid4(), BUYER, _draft(), EMPLOYEE)
    with pytest.raises(NotAllowed):
        submit(order, OUTSIDER)


# --- approval ---


def test_approval_snapshots_price_and_cancellation_terms() -> None:
    moved = approve(
        _submitted(),
        APPROVER,
        agreement=AGREEMENT_ACTIVE,
        today=TODAY,
        budget_room_cents=ROOM,
    )
    assert moved.event is events.OrderApproved
    order = moved.order
    assert order.status is OrderStatus.APPROVED
    assert order.approved_by == APPROVER.person_id
    assert order.price == PRICE  # the newest item in force on the start date, not the 2025 one
    assert order.cancellation == TERMS
    assert order.budget_override is None
    assert order.version == 3


def test_approval_snapshots_the_lots_price_list_payment_terms_and_agreement_number() -> None:
    later = msgspec.structs.replace(PRICE, net_price_cents=170_00, valid_from=dt.date(2026, 6, 1))
    at_buyer = msgspec.structs.replace(PRICE, mode=DeliveryMode.AT_BUYER, net_price_cents=180_00)
    longer = msgspec.structs.replace(PRICE, duration_minutes=120, net_price_cents=200_00)
    content = AGREEMENT_ACTIVE.content
    agreement = _agreement(
        content=msgspec.structs.replace(
            content,
            price_items=(*content.price_items, later, at_buyer, longer),
            payment_terms_days=30,
        )
    )
    order = approve(
        _submitted(),
        APPROVER,
        agreement=agreement,
        today=TODAY,
        budget_room_cents=ROOM,
    ).order
    # Of the individual form only, each duration and mode at the price in force on 1 April 2026.
    assert order.price_list == (at_buyer, PRICE, longer)
    assert (order.payment_terms_days, order.agreement_number) == (30, "HVA-2026-1")


def test_the_snapshot_survives_a_later_price_change() -> None:
    order = _approved()
    changed = _agreement(
        content=msgspec.structs.replace(
            AGREEMENT_ACTIVE.content, price_items=(msgspec.structs.replace(PRICE, net_price_cents=999_00),)
        )
    )
    assert changed.content.price_items[0].net_price_cents == 999_00
    assert order.price is not None
    assert order.price.net_price_cents == 150_00


def _approve(order: Order, actor: Actor = APPROVER, **overrides: object) -> Order:
    kwargs: dict[str, object] = {
        "agreement": AGREEMENT_ACTIVE,
        "today": TODAY,
        "budget_room_cents": ROOM,
    }
    kwargs.update(overrides)
    return approve(order, actor, **kwargs).order  # type: ignore[arg-type]


@pytest.mark.parametrize("actor", [EMPLOYEE, BUYER_ADMIN, PROVIDER_ADMIN, SUPERVISOR_ACTOR])
def test_approval_by_the_wrong_role_is_refused(actor: Actor) -> None:
    with pytest.raises(NotAllowed):
        _approve(_submitted(), actor)


def test_an_approver_of_another_cost_centre_cannot_approve() -> None:
    with pytest.raises(NotAllowed):
        _approve(_submitted(), OTHER_APPROVER)


def test_a_provider_not_admitted_is_refused() -> None:
    with pytest.raises(RuleBroken) as caught:
        _approve(_submitted(provider_id=uuid.uuid4()))
    assert caught.value.field == "providerId"


def test_an_expired_lot_is_refused() -> None:
    with pytest.raises(RuleBroken) as caught:
        _approve(_submitted(), today=dt.date(2030, 1, 2))
    assert caught.value.field == "agreementId"


def test_an_ended_agreement_is_refused() -> None:
    with pytest.raises(RuleBroken) as caught:
        _approve(_submitted(), agreement=_agreement(status=AgreementStatus.ENDED))
    assert caught.value.field == "agreementId"


def test_a_period_beyond_the_validity_is_refused() -> None:
    with pytest.raises(RuleBroken) as caught:
        _approve(_submitted(ends_on=dt.date(2030, 6, 30)))
    assert caught.value.field == "startsOn"


def test_an_unpriced_duration_is_refused() -> None:
    with pytest.raises(RuleBroken) as caught:
        _approve(_submitted(duration_minutes=60))
    assert caught.value.field == "durationMinutes"


def test_a_form_the_lot_does_not_offer_is_refused() -> None:
    with pytest.raises(RuleBroken) as caught:
        _approve(_submitted(form=SupervisionForm.TEAM))
    assert caught.value.field == "form"


def test_approval_snapshots_the_lot_the_providers_side_decides_by() -> None:
    order = _approve(_submitted())
    assert order.lot_terms == AGREEMENT_ACTIVE.content.lots[0]
    assert not order.supervisor_assigned  # the orderer's wish is checked when the provider assigns


def test_a_ranking_decline_follows_the_snapshot_not_a_later_agreement() -> None:
    order = _offered()
    assert order.lot_terms is not None
    # Whatever the agreement says later, the order passes on by the ranks it was approved with.
    moved = decline(order, PROVIDER_ADMIN)
    assert moved.order.provider_id == PROVIDER_2
    assert [p.provider_id for p in order.lot_terms.providers] == [PROVIDER_2, PROVIDER_1, PROVIDER_3]


def test_over_budget_without_override_is_refused() -> None:
    with pytest.raises(RuleBroken) as caught:
        _approve(_submitted(), budget_room_cents=10 * 150_00 - 1)
    assert caught.value.field == "budget"


def test_exactly_the_budget_room_is_enough() -> None:
    assert _approve(_submitted(), budget_room_cents=10 * 150_00).budget_override is None


def test_over_budget_with_override_is_recorded() -> None:
    order = _approve(_submitted(), budget_room_cents=100_00, override_reason=" Lakisääteinen tarve ")
    assert order.budget_override is not None
    assert order.budget_override.by == APPROVER.person_id
    assert order.budget_override.reason == "Lakisääteinen tarve"
    assert order.budget_override.cost_cents == 10 * 150_00
    assert order.budget_override.room_cents == 100_00


def test_a_per_hour_price_counts_the_duration() -> None:
    draft = {"form": SupervisionForm.PAIR, "participants": (PARTICIPANT, PARTICIPANT_2)}
    # 10 sessions × 1.5 h × 100 € = 1500 €
    assert _approve(_submitted(**draft), budget_room_cents=1500_00).budget_override is None
    with pytest.raises(RuleBroken):
        _approve(_submitted(**draft), budget_room_cents=1500_00 - 1)


def test_needs_based_without_justification_is_refused_at_approval() -> None:
    order = msgspec.structs.replace(_submitted(), selection=SelectionMethod.NEEDS_BASED, justification=None)
    with pytest.raises(RuleBroken) as caught:
        _approve(order)
    assert caught.value.field == "justification"


def test_needs_based_with_justification_is_approved_and_recorded() -> None:
    order = _approve(_submitted(selection=SelectionMethod.NEEDS_BASED, justification="Kielitaito: ruotsi"))
    assert order.selection is SelectionMethod.NEEDS_BASED
    assert order.justification == "Kielitaito: ruotsi"


def test_reject() -> None:
    moved = reject(_submitted(), APPROVER)
    assert moved.event is events.OrderRejected
    assert moved.order.status is OrderStatus.REJECTED


def test_reject_by_another_cost_centre_is_refused() -> None:
    with pytest.raises(NotAllowed):
        reject(_submitted(), OTHER_APPROVER)


# --- offer, conflict of interest, acceptance ---


def test_offer() -> None:
    moved = offer(_approved(), APPROVER)
    assert moved.event is events.OrderOffered
    assert moved.order.status is OrderStatus.OFFERED


def test_an_undeclared_conflict_blocks_acceptance() -> None:
    with pytest.raises(RuleBroken) as caught:
        accept(_assigned(), SUPERVISOR_ACTOR)
    assert caught.value.field == "conflict"


def test_a_supervisor_named_at_creation_is_only_a_wish_until_the_provider_assigns_them() -> None:
    order = _offered()
    assert (order.supervisor_id, order.supervisor_assigned) == (SUPERVISOR, False)
    with pytest.raises(NotAllowed):  # the wished supervisor does not act for the provider yet
        declare_conflict(order, SUPERVISOR_ACTOR, frozenset())
    with pytest.raises(NotAllowed):
        accept(order, SUPERVISOR_ACTOR)
    with pytest.raises(RuleBroken) as caught:
        accept(order, PROVIDER_ADMIN)
    assert caught.value.field == "supervisorId"
    confirmed = assign_supervisor(
        order, PROVIDER_ADMIN, supervisor_id=SUPERVISOR, supervisor_qualifications=QUALIFIED
    )
    assert confirmed.event is events.OrderSupervisorAssigned
    assert (confirmed.order.supervisor_id, confirmed.order.supervisor_assigned) == (SUPERVISOR, True)
    assert confirmed.order.version == order.version + 1
    again = assign_supervisor(
        confirmed.order, PROVIDER_ADMIN, supervisor_id=SUPERVISOR, supervisor_qualifications=QUALIFIED
    )
    assert again.order is confirmed.order  # nothing changes


def test_assigning_another_supervisor_needs_a_new_declaration() -> None:
    order = declare_conflict(_assigned(), SUPERVISOR_ACTOR, frozenset()).order
    other = uuid.uuid4()
    order = assign_supervisor(
        order, PROVIDER_ADMIN, supervisor_id=other, supervisor_qualifications=QUALIFIED
    ).order
    assert (order.supervisor_id, order.conflict.state) == (other, ConflictState.UNDECLARED)
    with pytest.raises(RuleBroken) as caught:
        accept(order, PROVIDER_ADMIN)
    assert caught.value.field == "conflict"


def test_the_lot_snapshot_decides_the_supervisors_qualifications() -> None:
    order = _offered()
    assert order.lot_terms is not None
    assert order.lot_terms.required_qualifications == QUALIFIED
    with pytest.raises(RuleBroken) as caught:
        assign_supervisor(
            order,
            PROVIDER_ADMIN,
            supervisor_id=SUPERVISOR,
            supervisor_qualifications=frozenset({QualificationKind.OTHER}),
        )
    assert caught.value.field == "supervisorId"


def test_no_conflict_declared_then_accept() -> None:
    declared = declare_conflict(_assigned(), SUPERVISOR_ACTOR, frozenset())
    assert declared.event is events.OrderConflictDeclared
    assert declared.order.conflict.state is ConflictState.NONE
    moved = accept(declared.order, SUPERVISOR_ACTOR)
    assert moved.event is events.OrderAccepted
    assert moved.order.status is OrderStatus.ACCEPTED


def test_a_declared_conflict_blocks_until_buyer_and_participants_accept() -> None:
    draft = {"form": SupervisionForm.PAIR, "participants": (PARTICIPANT, PARTICIPANT_2)}
    order = declare_conflict(_assigned(**draft), SUPERVISOR_ACTOR, frozenset({PARTICIPANT})).order
    assert order.conflict.state is ConflictState.DECLARED
    with pytest.raises(RuleBroken):
        accept(order, SUPERVISOR_ACTOR)
    order = accept_conflict(order, APPROVER, now=NOW).order
    assert order.conflict.accepted_by_buyer == APPROVER.person_id
    with pytest.raises(RuleBroken):
        accept(order, SUPERVISOR_ACTOR)
    with pytest.raises(NotAllowed):  # not affected by the conflict
        accept_conflict(order, EMPLOYEE_2, now=NOW)
    with pytest.raises(NotAllowed):
        accept_conflict(order, OTHER_APPROVER, now=NOW)
    later = NOW + dt.timedelta(hours=2)
    order = accept_conflict(order, EMPLOYEE, now=later).order
    assert order.conflict.accepted_by_participants == frozenset({PARTICIPANT})
    assert order.conflict.acceptances == (
        ConflictAcceptance(by=APPROVER.person_id, party="approver", at=NOW),
        ConflictAcceptance(by=PARTICIPANT, party="participant", at=later),
    )
    again = accept_conflict(order, EMPLOYEE, now=later + dt.timedelta(hours=1))
    assert again.order is order  # a repeated acceptance is no new one
    assert accept(order, PROVIDER_ADMIN).order.status is OrderStatus.ACCEPTED


def test_only_the_supervisor_declares() -> None:
    with pytest.raises(NotAllowed):
        declare_conflict(_offered(), PROVIDER_ADMIN, frozenset())


def test_a_conflict_with_a_non_participant_is_refused() -> None:
    with pytest.raises(RuleBroken) as caught:
        declare_conflict(_assigned(), SUPERVISOR_ACTOR, frozenset({uuid.uuid4()}))
    assert caught.value.field == "relatedParticipants"


def test_accepting_a_conflict_that_was_not_declared_is_refused() -> None:
    with pytest.raises(WrongState):
        accept_conflict(_offered(), APPROVER, now=NOW)


def test_acceptance_by_the_wrong_party_is_refused() -> None:
    order = declare_conflict(_assigned(), SUPERVISOR_ACTOR, frozenset()).order
    for actor in (APPROVER, EMPLOYEE, PROVIDER_2_ADMIN):
        with pytest.raises(NotAllowed):
            accept(order, actor)


def test_ranking_passes_the_offer_to_the_next_provider() -> None:
    moved = decline(_offered(), PROVIDER_ADMIN)
    assert moved.event is events.OrderOffered
    order = moved.order
    assert order.status is OrderStatus.OFFERED
    assert order.provider_id == PROVIDER_2
    assert order.supervisor_id is None
    assert order.declined_by_providers == (PROVIDER_1,)
    # the first provider no longer sees or acts on it
    assert not can_read(order, PROVIDER_ADMIN)
    with pytest.raises(RuleBroken) as caught:
        accept(order, PROVIDER_2_ADMIN)
    assert caught.value.field == "supervisorId"
    other = uuid.uuid4()
    order = assign_supervisor(
        order,
        PROVIDER_2_ADMIN,
        supervisor_id=other,
        supervisor_qualifications=QUALIFIED,
    ).order
    assert (order.supervisor_id, order.supervisor_assigned) == (other, True)
    order = decline(order, PROVIDER_2_ADMIN).order
    assert order.provider_id == PROVIDER_3
    provider_3 = Actor(person_id=uuid.uuid4(), tenant_id=PROVIDER_3, roles=frozenset({Role.PROVIDER_ADMIN}))
    final = decline(order, provider_3)
    assert final.event is events.OrderDeclined
    assert final.order.status is OrderStatus.DECLINED
    assert final.order.declined_by_providers == (PROVIDER_1, PROVIDER_2, PROVIDER_3)


def test_assigning_an_unqualified_supervisor_is_refused() -> None:
    order = decline(_offered(), PROVIDER_ADMIN).order
    with pytest.raises(RuleBroken) as caught:
        assign_supervisor(
            order,
            PROVIDER_2_ADMIN,
            supervisor_id=uuid.uuid4(),
            supervisor_qualifications=frozenset(),
        )
    assert caught.value.field == "supervisorId"


def test_a_decline_outside_ranking_is_final() -> None:
    order = _assigned(selection=SelectionMethod.MINI_COMPETITION)
    moved = decline(order, SUPERVISOR_ACTOR)
    assert moved.event is events.OrderDeclined
    assert moved.order.status is OrderStatus.DECLINED


def test_decline_by_the_buyer_is_refused() -> None:
    with pytest.raises(NotAllowed):
        decline(_offered(), APPROVER)


# --- running and closing ---


def test_start_complete() -> None:
    moved = start(_accepted(), SUPERVISOR_ACTOR)
    assert (moved.event, moved.order.status) == (events.OrderStarted, OrderStatus.ACTIVE)
    moved = complete(moved.order, SUPERVISOR_ACTOR)
    assert (moved.event, moved.order.status) == (events.OrderCompleted, OrderStatus.COMPLETED)


def test_either_side_interrupts() -> None:
    for actor in (APPROVER, PROVIDER_ADMIN):
        moved = interrupt(_active(), actor)
        assert (moved.event, moved.order.status) == (events.OrderInterrupted, OrderStatus.INTERRUPTED)


def test_a_participant_cannot_complete() -> None:
    with pytest.raises(NotAllowed):
        complete(_active(), EMPLOYEE)


def test_cancel_before_start() -> None:
    moved = cancel(_accepted(), APPROVER)
    assert (moved.event, moved.order.status) == (events.OrderCancelled, OrderStatus.CANCELLED)
    own = new_order(uuid.uuid4(), BUYER, _draft(), EMPLOYEE)
    assert cancel(own, EMPLOYEE).order.status is OrderStatus.CANCELLED


def test_the_orderer_cannot_cancel_an_approved_order() -> None:
    order = approve(
        submit(new_order(uuid.uuid4(), BUYER, _draft(), EMPLOYEE), EMPLOYEE).order,
        APPROVER,
        agreement=AGREEMENT_ACTIVE,
        today=TODAY,
        budget_room_cents=ROOM,
    ).order
    with pytest.raises(NotAllowed):
        cancel(order, EMPLOYEE)


@pytest.mark.parametrize(
    "move",
    [
        lambda o: submit(o, APPROVER),
        lambda o: _approve(o),
        lambda o: reject(o, APPROVER),
        lambda o: offer(o, APPROVER),
        lambda o: accept(o, SUPERVISOR_ACTOR),
        lambda o: decline(o, SUPERVISOR_ACTOR),
        lambda o: declare_conflict(o, SUPERVISOR_ACTOR, frozenset()),
        lambda o: start(o, SUPERVISOR_ACTOR),
        lambda o: complete(o, SUPERVISOR_ACTOR),
        lambda o: interrupt(o, APPROVER),
        lambda o: cancel(o, APPROVER),
        lambda o: request_extension(o, APPROVER, 5),
    ],
)
def test_wrong_state_transitions_are_refused(move: object) -> None:
    completed = complete(_active(), SUPERVISOR_ACTOR).order
    with pytest.raises(WrongState):
        move(completed)  # type: ignore[operator]


def test_approving_a_draft_is_a_wrong_state() -> None:
    with pytest.raises(WrongState):
        _approve(new_order(uuid.uuid4(), BUYER, _draft(), APPROVER))


def test_accepting_an_approved_but_not_offered_order_is_a_wrong_state() -> None:
    with pytest.raises(WrongState):
        accept(_approved(), SUPERVISOR_ACTOR)


# --- extensions ---


def test_an_extension_needs_a_new_approval() -> None:
    requested = request_extension(_active(), SUPERVISOR_ACTOR, 5)
    assert requested.event is events.OrderExtensionRequested
    order = requested.order
    assert order.status is OrderStatus.ACTIVE
    assert order.planned_sessions == 10
    with pytest.raises(WrongState):
        request_extension(order, APPROVER, 1)
    with pytest.raises(NotAllowed):
        approve_extension(
            order, OTHER_APPROVER, agreement=AGREEMENT_ACTIVE, today=TODAY, budget_room_cents=ROOM
        )
    with pytest.raises(RuleBroken):
        approve_extension(order, APPROVER, agreement=AGREEMENT_ACTIVE, today=TODAY, budget_room_cents=0)
    moved = approve_extension(
        order, APPROVER, agreement=AGREEMENT_ACTIVE, today=TODAY, budget_room_cents=5 * 150_00
    )
    assert moved.event is events.OrderExtended
    assert moved.order.planned_sessions == 15
    assert moved.order.pending_extension is None


def test_an_extension_can_be_rejected() -> None:
    order = request_extension(_approved(), APPROVER, 2).order
    moved = reject_extension(order, APPROVER)
    assert moved.event is events.OrderExtensionRejected
    assert moved.order.pending_extension is None
    assert moved.order.planned_sessions == 10
    with pytest.raises(WrongState):
        reject_extension(moved.order, APPROVER)


def test_an_extension_over_the_session_limit_is_refused() -> None:
    with pytest.raises(RuleBroken) as caught:
        request_extension(_active(), APPROVER, 91)
    assert caught.value.field == "additionalSessions"


# --- reading ---


def test_who_may_read_an_order() -> None:
    assert not can_read(_offered(), SUPERVISOR_ACTOR)  # only wished for, not yet assigned
    order = _assigned()
    for actor in (APPROVER, BUYER_ADMIN, EMPLOYEE, PROVIDER_ADMIN, SUPERVISOR_ACTOR):
        assert can_read(order, actor), actor
    other_supervisor = Actor(person_id=uuid.uuid4(), tenant_id=PROVIDER_1, roles=frozenset({Role.SUPERVISOR}))
    other_buyer_admin = Actor(
        person_id=uuid.uuid4(), tenant_id=uuid.uuid4(), roles=frozenset({Role.BUYER_ADMIN})
    )
    for actor in (OTHER_APPROVER, OUTSIDER, PROVIDER_2_ADMIN, other_supervisor, other_buyer_admin):
        assert not can_read(order, actor), actor


# --- issue 13 items 4, 5, 10; issue 12 item 10 ---


def test_the_first_held_session_starts_only_an_accepted_order() -> None:
    started = start_by_session(_accepted())
    assert started is not None
    assert (started.event, started.order.status) == (events.OrderStarted, OrderStatus.ACTIVE)
    assert start_by_session(started.order) is None  # a later session changes nothing
    assert start_by_session(_offered()) is None


def test_a_draft_is_checked_against_the_lots_price_list() -> None:
    check_priced(_draft(), AGREEMENT_ACTIVE)
    for overrides in ({"duration_minutes": 60}, {"mode": DeliveryMode.AT_BUYER}, {"lot": "Ryhmä"}):
        with pytest.raises(RuleBroken) as caught:
            check_priced(_draft(**overrides), AGREEMENT_ACTIVE)
        assert caught.value.field == "durationMinutes"
    # A period outside the agreement's validity is approval's to refuse, not a missing price.
    check_priced(_draft(starts_on=dt.date(2031, 1, 1), ends_on=dt.date(2031, 2, 1)), AGREEMENT_ACTIVE)


def test_order_numbers_are_the_year_and_a_six_digit_sequence() -> None:
    assert order_number(2027, 123) == "TO-2027-000123"
    with pytest.raises(ValueError, match="starts at 1"):
        order_number(2027, 0)


def test_who_takes_part_in_individual_supervision_is_hidden_from_buyer_admins_only() -> None:
    order = _offered()
    assert seen_by(order, BUYER_ADMIN).participants == ()
    for actor in (APPROVER, EMPLOYEE, PROVIDER_ADMIN):
        assert seen_by(order, actor) is order
    pair = _offered(form=SupervisionForm.PAIR, participants=(PARTICIPANT, uuid.uuid4()))
    assert seen_by(pair, BUYER_ADMIN) is pair
