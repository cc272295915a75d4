"""Which sessions are billed and how much (invariants 7–9), without servers."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from services.billing.domain.items import (
    SessionOutcome,
    billable_item,
    billing_month,
    quantity_for,
    service_date,
    vat_rate_on,
)


def outcome(**overrides: Any) -> SessionOutcome:
    facts: dict[str, Any] = {
        "session_id": uuid.uuid4(),
        "order_id": uuid.uuid4(),
        "agreement_id": uuid.uuid4(),
        "cost_centre_id": uuid.uuid4(),
        "buyer_id": uuid.uuid4(),
        "provider_id": uuid.uuid4(),
        "form": "group",
        "mode": "remote",
        "starts_at": dt.datetime(2024, 10, 3, 9, 0, tzinfo=dt.UTC),
        "duration_minutes": 90,
        "outcome": "held",
        "unit": "per_session",
        "net_price_cents": 15_000,
        "late_cancellation_charge_percent": 50,
        "no_show_charge_percent": 100,
        "participant_count": 6,
        "attended_count": 5,
    }
    facts.update(overrides)
    return SessionOutcome(**facts)


def test_a_held_session_is_billed_at_its_full_price() -> None:
    item = billable_item(outcome())
    assert item is not None
    assert (item.kind, item.charge_percent, item.net_cents) == ("held", 100, 15_000)


def test_a_group_session_is_billed_once_per_session_not_per_attendee() -> None:
    item = billable_item(outcome(form="group", participant_count=6, attended_count=6))
    assert item is not None
    assert item.quantity.value == 1
    assert item.net_cents == 15_000


def test_a_no_show_is_billed_at_the_no_show_percent() -> None:
    item = billable_item(outcome(outcome="no_show", no_show_charge_percent=80, attended_count=0))
    assert item is not None
    assert (item.kind, item.charge_percent, item.net_cents) == ("no_show", 80, 12_000)


def test_a_late_cancellation_is_billed_per_the_snapshotted_terms() -> None:
    item = billable_item(outcome(outcome="cancelled", category="late", late_cancellation_charge_percent=50))
    assert item is not None
    assert (item.kind, item.net_cents) == ("late_cancellation", 7_500)


def test_a_late_cancellation_exempt_by_the_terms_is_not_billed() -> None:
    assert billable_item(outcome(outcome="cancelled", category="late", charge_exempt=True)) is None


@pytest.mark.parametrize("category", ["on_time", "by_supervisor"])
def test_on_time_and_supervisor_cancellations_are_never_billed(category: str) -> None:
    assert billable_item(outcome(outcome="cancelled", category=category)) is None


def test_a_late_cancellation_at_zero_percent_is_not_billed() -> None:
    assert (
        billable_item(outcome(outcome="cancelled", category="late", late_cancellation_charge_percent=0))
        is None
    )


def test_per_hour_prices_bill_the_duration_in_exact_hours() -> None:
    item = billable_item(outcome(unit="per_hour", duration_minutes=90, net_price_cents=12_000))
    assert item is not None
    assert (item.quantity.value, item.quantity.unit_code, item.net_cents) == (Decimal("1.5"), "HUR", 18_000)
    assert quantity_for("per_hour", 45).value == Decimal("0.75")
    assert quantity_for("per_hour", 60).value == Decimal(1)


def test_a_duration_without_an_exact_decimal_hour_is_billed_in_minutes_against_an_hourly_base() -> None:
    quantity = quantity_for("per_hour", 50)
    assert (quantity.value, quantity.unit_code, quantity.base) == (Decimal(50), "MIN", Decimal(60))
    item = billable_item(outcome(unit="per_hour", duration_minutes=50, net_price_cents=12_000))
    assert item is not None
    assert item.net_cents == 10_000


def test_per_session_prices_bill_one_session_whatever_the_duration() -> None:
    assert quantity_for("per_session", 120).value == 1


def test_a_partial_charge_with_fractions_of_a_cent_rounds_the_line_half_up() -> None:
    item = billable_item(outcome(outcome="no_show", no_show_charge_percent=33, net_price_cents=12_345))
    assert item is not None
    assert item.unit_price == Decimal("40.7385")
    assert item.net_cents == 4_074


def test_vat_is_24_percent_until_august_2024_and_25_5_from_september() -> None:
    assert vat_rate_on(dt.date(2024, 8, 31)) == Decimal(24)
    assert vat_rate_on(dt.date(2024, 9, 1)) == Decimal("25.5")


def test_the_vat_date_and_billing_month_follow_helsinki_time() -> None:
    late_evening_utc = dt.datetime(2024, 8, 31, 23, 30, tzinfo=dt.UTC)  # 02:30 on 1 Sep in Helsinki
    assert service_date(late_evening_utc) == dt.date(2024, 9, 1)
    assert billing_month(late_evening_utc) == dt.date(2024, 9, 1)
    item = billable_item(outcome(starts_at=late_evening_utc))
    assert item is not None
    assert (item.vat_rate, item.billing_month) == (Decimal("25.5"), dt.date(2024, 9, 1))

    earlier = dt.datetime(2024, 8, 31, 20, 59, tzinfo=dt.UTC)  # 23:59 on 31 Aug in Helsinki
    item = billable_item(outcome(starts_at=earlier))
    assert item is not None
    assert (item.vat_rate, item.billing_month) == (Decimal(24), dt.date(2024, 8, 1))


def test_snapshot_keeps_cost_centre_and_references() -> None:
    source = outcome()
    item = billable_item(source)
    assert item is not None
    assert (item.cost_centre_id, item.order_id, item.agreement_id, item.session_id) == (
        source.cost_centre_id,
        source.order_id,
        source.agreement_id,
        source.session_id,
    )
