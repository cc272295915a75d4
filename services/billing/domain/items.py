"""Billable items: which sessions are charged, how much, at which VAT rate (invariants 7–9).

A session becomes at most one item. Its price, quantity, VAT rate, cancellation terms and cost
centre are snapshotted here from the session event and never change afterwards; a correction is
a credit note. Group forms are billed per session, never per attendee.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

__all__ = [
    "HELSINKI",
    "VAT_RATES",
    "BillableItem",
    "ChargeKind",
    "Quantity",
    "SessionOutcome",
    "billable_item",
    "billing_month",
    "charged_unit_price",
    "line_net_cents",
    "quantity_for",
    "service_date",
    "vat_rate_on",
]

HELSINKI = ZoneInfo("Europe/Helsinki")

VAT_RATES: tuple[tuple[dt.date, Decimal], ...] = (
    (dt.date(2013, 1, 1), Decimal("24")),
    (dt.date(2024, 9, 1), Decimal("25.5")),
)
"""The Finnish general VAT rate by the date the service is performed (``valid_from``, rate %)."""

ChargeKind = Literal["held", "no_show", "late_cancellation"]
CancellationCategory = Literal["on_time", "late", "by_supervisor"]
PriceUnit = Literal["per_session", "per_hour"]


class SessionOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What billing hears of a session that may be charged (from a sessions event)."""

    session_id: uuid.UUID
    order_id: uuid.UUID
    agreement_id: uuid.UUID
    cost_centre_id: uuid.UUID
    buyer_id: uuid.UUID
    provider_id: uuid.UUID
    form: str
    mode: str
    starts_at: dt.datetime
    duration_minutes: int
    outcome: Literal["held", "no_show", "cancelled"]
    category: CancellationCategory | None = None
    charge_exempt: bool = False
    unit: PriceUnit
    net_price_cents: int
    late_cancellation_charge_percent: int
    no_show_charge_percent: int
    participant_count: int
    attended_count: int = 0


class Quantity(msgspec.Struct, frozen=True):
    """Invoiced quantity with its UN/ECE unit, and the price's base quantity in the same unit.

    Per hour, the quantity is the duration in hours when that is an exact decimal (90 min →
    1.5 HUR); otherwise it is stated in minutes against a price per 60 MIN, so that quantity ×
    price ÷ base is still exact (50 min → 50 MIN at the hourly price per 60 MIN).
    """

    value: Decimal
    unit_code: str
    base: Decimal


class BillableItem(msgspec.Struct, frozen=True, kw_only=True):
    session_id: uuid.UUID
    order_id: uuid.UUID
    agreement_id: uuid.UUID
    cost_centre_id: uuid.UUID
    buyer_id: uuid.UUID
    provider_id: uuid.UUID
    kind: ChargeKind
    form: str
    mode: str
    starts_at: dt.datetime
    service_date: dt.date
    billing_month: dt.date
    duration_minutes: int
    unit: PriceUnit
    quantity: Quantity
    list_price_cents: int
    charge_percent: int
    unit_price: Decimal
    """Charged price per base quantity in euros (list price × charge percent), unrounded."""
    net_cents: int
    vat_rate: Decimal
    participant_count: int
    attended_count: int


def service_date(starts_at: dt.datetime) -> dt.date:
    """The day the service was performed, in Europe/Helsinki."""
    if starts_at.tzinfo is None:
        raise ValueError("starts_at must be timezone-aware")
    return starts_at.astimezone(HELSINKI).date()


def billing_month(starts_at: dt.datetime) -> dt.date:
    """The first day of the Europe/Helsinki month the session belongs to."""
    return service_date(starts_at).replace(day=1)


def vat_rate_on(day: dt.date) -> Decimal:
    rate: Decimal | None = None
    for valid_from, value in VAT_RATES:
        if day >= valid_from:
            rate = value
    if rate is None:
        raise ValueError(f"no VAT rate known for {day.isoformat()}")
    return rate


def _is_terminating(fraction: Fraction) -> bool:
    denominator = fraction.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def quantity_for(unit: PriceUnit, duration_minutes: int) -> Quantity:
    if duration_minutes <= 0:
        raise ValueError("a session lasts at least a minute")
    if unit == "per_session":
        return Quantity(Decimal(1), "C62", Decimal(1))
    hours = Fraction(duration_minutes, 60)
    if _is_terminating(hours):
        return Quantity(Decimal(hours.numerator) / Decimal(hours.denominator), "HUR", Decimal(1))
    return Quantity(Decimal(duration_minutes), "MIN", Decimal(60))


def charged_unit_price(list_price_cents: int, charge_percent: int) -> Decimal:
    """The charged price in euros per base quantity: exact, possibly beyond cents."""
    return Decimal(list_price_cents) * Decimal(charge_percent) / Decimal(10_000)


def line_net_cents(quantity: Quantity, unit_price: Decimal) -> int:
    """Quantity × price ÷ base quantity, rounded half up to the cent (EN 16931 BT-131)."""
    euros = quantity.value * unit_price / quantity.base
    return int((euros * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _charge(outcome: SessionOutcome) -> tuple[ChargeKind, int] | None:
    if outcome.outcome == "held":
        return "held", 100
    if outcome.outcome == "no_show":
        return "no_show", outcome.no_show_charge_percent
    if outcome.category == "late" and not outcome.charge_exempt:
        return "late_cancellation", outcome.late_cancellation_charge_percent
    return None  # on time, by the supervisor, or exempt by the terms: never billed


def billable_item(outcome: SessionOutcome) -> BillableItem | None:
    """The item a session outcome bills, or None when the rules say it is not billable."""
    charge = _charge(outcome)
    if charge is None:
        return None
    kind, percent = charge
    if not 0 <= percent <= 100:
        raise ValueError("a charge percent lies between 0 and 100")
    if percent == 0:
        return None
    quantity = quantity_for(outcome.unit, outcome.duration_minutes)
    unit_price = charged_unit_price(outcome.net_price_cents, percent)
    day = service_date(outcome.starts_at)
    return BillableItem(
        session_id=outcome.session_id,
        order_id=outcome.order_id,
        agreement_id=outcome.agreement_id,
        cost_centre_id=outcome.cost_centre_id,
        buyer_id=outcome.buyer_id,
        provider_id=outcome.provider_id,
        kind=kind,
        form=outcome.form,
        mode=outcome.mode,
        starts_at=outcome.starts_at.astimezone(dt.UTC),
        service_date=day,
        billing_month=day.replace(day=1),
        duration_minutes=outcome.duration_minutes,
        unit=outcome.unit,
        quantity=quantity,
        list_price_cents=outcome.net_price_cents,
        charge_percent=percent,
        unit_price=unit_price,
        net_cents=line_net_cents(quantity, unit_price),
        vat_rate=vat_rate_on(day),
        participant_count=outcome.participant_count,
        attended_count=outcome.attended_count,
    )
