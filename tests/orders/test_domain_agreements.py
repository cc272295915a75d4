"""The rules of framework agreements, and which price is in force on a date."""

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
    InvalidAgreement,
    Lot,
    PriceItem,
    PriceUnit,
    QualificationKind,
    StateConflict,
    SupervisionForm,
    Validity,
    activate,
    change,
    end,
    new_agreement,
    price_for,
    price_list_for,
    provider_ids,
)

START = dt.date(2026, 1, 1)
PROVIDER = uuid.uuid4()


def _item(**overrides: object) -> PriceItem:
    fields: dict[str, object] = {
        "lot": "Yksilö",
        "form": SupervisionForm.INDIVIDUAL,
        "duration_minutes": 90,
        "mode": DeliveryMode.REMOTE,
        "unit": PriceUnit.PER_SESSION,
        "net_price_cents": 12_000,
        "valid_from": START,
        **overrides,
    }
    return PriceItem(**fields)  # type: ignore[arg-type]


def _lot(**overrides: object) -> Lot:
    fields: dict[str, object] = {
        "name": "Yksilö",
        "forms": (SupervisionForm.INDIVIDUAL, SupervisionForm.MANAGER),
        "region": "Pirkanmaa",
        "required_qualifications": frozenset({QualificationKind.STORY_TRAINING}),
        "providers": (AdmittedProvider(provider_id=PROVIDER, rank=1),),
        **overrides,
    }
    return Lot(**fields)  # type: ignore[arg-type]


def _content(**overrides: object) -> AgreementContent:
    fields: dict[str, object] = {
        "number": "PIR-2026-01",
        "title": "Työnohjauspalvelut",
        "validity": Validity(
            starts_on=START, first_term_ends_on=dt.date(2027, 12, 31), hard_end_on=dt.date(2029, 12, 31)
        ),
        "lots": (_lot(),),
        "price_items": (_item(),),
        **overrides,
    }
    return AgreementContent(**fields)  # type: ignore[arg-type]


def _field_of(content: AgreementContent) -> str:
    with pytest.raises(InvalidAgreement) as caught:
        new_agreement(uuid.uuid4(), content)
    return caught.value.field


def test_a_valid_agreement_starts_as_a_draft_at_version_1() -> None:
    agreement = new_agreement(uuid.uuid4(), _content())
    assert agreement.status is AgreementStatus.DRAFT
    assert agreement.version == 1


def test_first_term_cannot_end_before_the_start() -> None:
    validity = Validity(starts_on=START, first_term_ends_on=START - dt.timedelta(days=1), hard_end_on=START)
    assert _field_of(_content(validity=validity)) == "validity.firstTermEndsOn"


def test_hard_end_cannot_come_before_the_first_term_ends() -> None:
    validity = Validity(
        starts_on=START, first_term_ends_on=dt.date(2027, 1, 1), hard_end_on=dt.date(2026, 6, 1)
    )
    assert _field_of(_content(validity=validity)) == "validity.hardEndOn"


def test_a_one_day_agreement_is_valid() -> None:
    validity = Validity(starts_on=START, first_term_ends_on=START, hard_end_on=START)
    new_agreement(uuid.uuid4(), _content(validity=validity))


@pytest.mark.parametrize("number", ["", "   "])
def test_number_must_not_be_blank(number: str) -> None:
    assert _field_of(_content(number=number)) == "number"


def test_lot_names_are_unique() -> None:
    assert _field_of(_content(lots=(_lot(), _lot()))) == "lots[1].name"


def test_a_lot_offers_at_least_one_form() -> None:
    assert _field_of(_content(lots=(_lot(forms=()),), price_items=())) == "lots[0].forms"


def test_ranks_are_unique_within_a_lot() -> None:
    providers = (
        AdmittedProvider(provider_id=PROVIDER, rank=1),
        AdmittedProvider(provider_id=uuid.uuid4(), rank=1),
    )
    assert _field_of(_content(lots=(_lot(providers=providers),))) == "lots[0].providers[1].rank"


def test_the_same_rank_in_two_lots_is_fine() -> None:
    lots = (_lot(), _lot(name="Ryhmä", forms=(SupervisionForm.GROUP,)))
    new_agreement(uuid.uuid4(), _content(lots=lots))


def test_a_provider_is_admitted_to_a_lot_once() -> None:
    providers = (AdmittedProvider(provider_id=PROVIDER), AdmittedProvider(provider_id=PROVIDER))
    assert _field_of(_content(lots=(_lot(providers=providers),))) == "lots[0].providers[1].providerId"


@pytest.mark.parametrize("minutes", [29, 241, 0])
def test_durations_are_30_to_240_minutes(minutes: int) -> None:
    assert (
        _field_of(_content(price_items=(_item(duration_minutes=minutes),))) == "priceItems[0].durationMinutes"
    )


@pytest.mark.parametrize("minutes", [30, 45, 240])
def test_durations_at_the_bounds_are_allowed(minutes: int) -> None:
    new_agreement(uuid.uuid4(), _content(price_items=(_item(duration_minutes=minutes),)))


def test_prices_are_not_negative() -> None:
    assert _field_of(_content(price_items=(_item(net_price_cents=-1),))) == "priceItems[0].netPriceCents"


def test_a_free_session_is_allowed() -> None:
    new_agreement(uuid.uuid4(), _content(price_items=(_item(net_price_cents=0),)))


def test_a_price_item_names_a_lot_of_the_agreement() -> None:
    assert _field_of(_content(price_items=(_item(lot="Kriisi"),))) == "priceItems[0].lot"


def test_a_price_item_prices_a_form_its_lot_offers() -> None:
    assert _field_of(_content(price_items=(_item(form=SupervisionForm.CRISIS),))) == "priceItems[0].form"


def test_one_item_per_lot_form_duration_mode_and_start_date() -> None:
    items = (_item(), _item(net_price_cents=13_000))
    assert _field_of(_content(price_items=items)) == "priceItems[1]"


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        (CancellationTerms(late_threshold_hours=-1), "cancellation.lateThresholdHours"),
        (CancellationTerms(late_threshold_hours=337), "cancellation.lateThresholdHours"),
        (
            CancellationTerms(late_cancellation_charge_percent=101),
            "cancellation.lateCancellationChargePercent",
        ),
        (CancellationTerms(no_show_charge_percent=-5), "cancellation.noShowChargePercent"),
    ],
)
def test_cancellation_terms_are_in_range(terms: CancellationTerms, field: str) -> None:
    assert _field_of(_content(cancellation=terms)) == field


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (_content(lots=(), price_items=()), "lots"),
        (_content(lots=(_lot(providers=()),)), "lots"),
        (_content(price_items=()), "priceItems"),
    ],
)
def test_activation_needs_a_lot_a_provider_and_a_price(content: AgreementContent, field: str) -> None:
    draft = new_agreement(uuid.uuid4(), content)
    with pytest.raises(InvalidAgreement) as caught:
        activate(draft)
    assert caught.value.field == field


def test_draft_to_active_to_ended() -> None:
    active = activate(new_agreement(uuid.uuid4(), _content()))
    assert (active.status, active.version) == (AgreementStatus.ACTIVE, 2)
    ended = end(active)
    assert (ended.status, ended.version) == (AgreementStatus.ENDED, 3)
    with pytest.raises(StateConflict):
        activate(ended)
    with pytest.raises(StateConflict):
        end(ended)
    with pytest.raises(StateConflict):
        change(ended, _content())


def test_a_draft_cannot_be_ended() -> None:
    with pytest.raises(StateConflict):
        end(new_agreement(uuid.uuid4(), _content()))


def test_a_draft_may_change_anything() -> None:
    draft = new_agreement(uuid.uuid4(), _content())
    changed = change(draft, _content(title="Uusi", price_items=()))
    assert changed.content.title == "Uusi"
    assert changed.version == 2
    assert change(changed, changed.content) is changed


def test_an_active_agreement_changes_only_prices_and_providers() -> None:
    active = activate(new_agreement(uuid.uuid4(), _content()))
    other = uuid.uuid4()
    lots = (_lot(providers=(AdmittedProvider(provider_id=other, rank=1),)),)
    changed = change(
        active, _content(lots=lots, price_items=(_item(), _item(valid_from=dt.date(2027, 1, 1))))
    )
    assert provider_ids(changed.content) == [other]
    assert changed.status is AgreementStatus.ACTIVE
    for content, field in [
        (_content(title="Toinen"), "title"),
        (_content(cancellation=CancellationTerms(late_threshold_hours=48)), "cancellation"),
        (_content(lots=(_lot(region="Uusimaa"),)), "lots"),
        (_content(payment_terms_days=30), "paymentTermsDays"),
    ]:
        with pytest.raises(InvalidAgreement) as caught:
            change(active, content)
        assert caught.value.field == field


def test_an_active_agreement_keeps_a_provider_and_a_price() -> None:
    active = activate(new_agreement(uuid.uuid4(), _content()))
    with pytest.raises(InvalidAgreement) as caught:
        change(active, _content(price_items=()))
    assert caught.value.field == "priceItems"


def _priced(*items: PriceItem) -> FrameworkAgreement:
    return new_agreement(uuid.uuid4(), _content(price_items=items))


def test_price_for_picks_the_newest_item_valid_on_the_date() -> None:
    old = _item(net_price_cents=10_000)
    new = _item(net_price_cents=11_000, valid_from=dt.date(2027, 1, 1))
    agreement = _priced(new, old)
    lookup = ("Yksilö", SupervisionForm.INDIVIDUAL, 90, DeliveryMode.REMOTE)
    assert price_for(agreement, *lookup, dt.date(2026, 6, 1)) == old
    assert price_for(agreement, *lookup, dt.date(2026, 12, 31)) == old
    assert price_for(agreement, *lookup, dt.date(2027, 1, 1)) == new
    assert price_for(agreement, *lookup, dt.date(2028, 1, 1)) == new


def test_price_for_nothing_before_any_item_or_outside_the_agreement() -> None:
    agreement = _priced(_item(valid_from=dt.date(2026, 3, 1)))
    lookup = ("Yksilö", SupervisionForm.INDIVIDUAL, 90, DeliveryMode.REMOTE)
    assert price_for(agreement, *lookup, dt.date(2026, 2, 28)) is None
    assert price_for(agreement, *lookup, dt.date(2030, 1, 1)) is None
    assert price_for(agreement, *lookup, dt.date(2025, 12, 31)) is None


def test_price_for_matches_lot_form_duration_and_mode() -> None:
    agreement = _priced(_item())
    on = dt.date(2026, 6, 1)
    assert price_for(agreement, "Yksilö", SupervisionForm.MANAGER, 90, DeliveryMode.REMOTE, on) is None
    assert price_for(agreement, "Yksilö", SupervisionForm.INDIVIDUAL, 60, DeliveryMode.REMOTE, on) is None
    assert price_for(agreement, "Yksilö", SupervisionForm.INDIVIDUAL, 90, DeliveryMode.AT_BUYER, on) is None
    assert price_for(agreement, "Ryhmä", SupervisionForm.INDIVIDUAL, 90, DeliveryMode.REMOTE, on) is None


def test_price_list_for_holds_each_duration_and_mode_of_the_form_in_force_on_the_date() -> None:
    old = _item(net_price_cents=10_000)
    new = _item(net_price_cents=11_000, valid_from=dt.date(2027, 1, 1))
    at_buyer = _item(mode=DeliveryMode.AT_BUYER, net_price_cents=13_000)
    short = _item(duration_minutes=60, net_price_cents=9_000)
    manager = _item(form=SupervisionForm.MANAGER, net_price_cents=20_000)
    agreement = _priced(new, manager, at_buyer, old, short)
    individual = ("Yksilö", SupervisionForm.INDIVIDUAL)
    assert price_list_for(agreement, *individual, dt.date(2026, 6, 1)) == (short, at_buyer, old)
    assert price_list_for(agreement, *individual, dt.date(2027, 6, 1)) == (short, at_buyer, new)
    assert price_list_for(agreement, "Yksilö", SupervisionForm.MANAGER, dt.date(2026, 6, 1)) == (manager,)
    assert price_list_for(agreement, "Ryhmä", SupervisionForm.INDIVIDUAL, dt.date(2026, 6, 1)) == ()
    assert price_list_for(agreement, *individual, dt.date(2030, 1, 1)) == ()


@pytest.mark.parametrize("days", [-1, 121])
def test_payment_terms_are_0_to_120_days(days: int) -> None:
    assert _field_of(_content(payment_terms_days=days)) == "paymentTermsDays"


def test_payment_terms_default_to_21_days_and_may_be_0_or_120() -> None:
    assert new_agreement(uuid.uuid4(), _content()).content.payment_terms_days == 21
    for days in (0, 120):
        agreement = new_agreement(uuid.uuid4(), _content(payment_terms_days=days))
        assert agreement.content.payment_terms_days == days


def test_content_round_trips_through_json() -> None:
    content = _content()
    assert msgspec.json.decode(msgspec.json.encode(content), type=AgreementContent) == content
