"""Framework agreements (puitejärjestelyt): lots, admitted providers, price list, cancellation terms.

Pure rules, no I/O. A buyer drafts an agreement, activates it once it has at least one lot, one
admitted provider and one price item, may then change only its price list and admitted providers,
and finally ends it. Every broken rule names the field at fault as the API spells it
(``validity.firstTermEndsOn``, ``priceItems[2].durationMinutes``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from enum import StrEnum

import msgspec

from shared.contracts.vocabulary import DeliveryMode, QualificationKind, SupervisionForm
from shared.errors import RuleBroken, WrongState

__all__ = [
    "AdmittedProvider",
    "AgreementContent",
    "AgreementStatus",
    "CancellationTerms",
    "DeliveryMode",
    "FrameworkAgreement",
    "InvalidAgreement",
    "Lot",
    "PriceItem",
    "PriceUnit",
    "QualificationKind",
    "StateConflict",
    "SupervisionForm",
    "Validity",
    "activate",
    "change",
    "check_content",
    "end",
    "new_agreement",
    "price_for",
    "price_list_for",
    "provider_ids",
]

MIN_DURATION_MINUTES = 30
MAX_DURATION_MINUTES = 240
MAX_LATE_THRESHOLD_HOURS = 336
DEFAULT_PAYMENT_TERMS_DAYS = 21
MAX_PAYMENT_TERMS_DAYS = 120


class InvalidAgreement(RuleBroken):
    """A value breaks a rule; ``field`` names it as the API spells it, in the request body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message, location="body")


class StateConflict(WrongState):
    """The change is valid in itself but not in the agreement's current state."""


class PriceUnit(StrEnum):
    PER_SESSION = "per_session"
    PER_HOUR = "per_hour"


class AgreementStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ENDED = "ended"


class Validity(msgspec.Struct, frozen=True, kw_only=True):
    starts_on: dt.date
    first_term_ends_on: dt.date
    hard_end_on: dt.date
    """The last day with every option to extend used."""


class AdmittedProvider(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: uuid.UUID
    """A provider tenant."""
    rank: int | None = None
    """Position in the lot's ranking order (1 first); unique within the lot."""


class Lot(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    forms: tuple[SupervisionForm, ...]
    region: str
    required_qualifications: frozenset[QualificationKind] = frozenset()
    providers: tuple[AdmittedProvider, ...] = ()


class PriceItem(msgspec.Struct, frozen=True, kw_only=True):
    lot: str
    """The name of the lot it prices."""
    form: SupervisionForm
    duration_minutes: int
    mode: DeliveryMode
    unit: PriceUnit
    net_price_cents: int
    valid_from: dt.date


class CancellationTerms(msgspec.Struct, frozen=True, kw_only=True):
    late_threshold_hours: int = 24
    """A cancellation less than this many hours before the session is late."""
    late_cancellation_charge_percent: int = 100
    no_show_charge_percent: int = 100
    illness_exempt: bool = False
    """A late cancellation for illness is not charged."""


class AgreementContent(msgspec.Struct, frozen=True, kw_only=True):
    """What a buyer writes in an agreement (the whole draft, replaced at once)."""

    number: str
    title: str
    validity: Validity
    lots: tuple[Lot, ...] = ()
    price_items: tuple[PriceItem, ...] = ()
    cancellation: CancellationTerms = CancellationTerms()
    payment_terms_days: int = DEFAULT_PAYMENT_TERMS_DAYS
    """Days from the invoice date to its due date."""


class FrameworkAgreement(msgspec.Struct, frozen=True, kw_only=True):
    agreement_id: uuid.UUID
    status: AgreementStatus
    content: AgreementContent
    version: int = 1


# --- rules ---


def _text(field: str, value: str, *, max_length: int) -> None:
    if not value.strip():
        raise InvalidAgreement(field, "must not be blank")
    if len(value) > max_length:
        raise InvalidAgreement(field, f"must be at most {max_length} characters")


def _check_validity(validity: Validity) -> None:
    if validity.first_term_ends_on < validity.starts_on:
        raise InvalidAgreement("validity.firstTermEndsOn", "must not be before startsOn")
    if validity.hard_end_on < validity.first_term_ends_on:
        raise InvalidAgreement("validity.hardEndOn", "must not be before firstTermEndsOn")


def _check_lot(index: int, lot: Lot) -> None:
    at = f"lots[{index}]"
    _text(f"{at}.name", lot.name, max_length=200)
    _text(f"{at}.region", lot.region, max_length=100)
    if not lot.forms:
        raise InvalidAgreement(f"{at}.forms", "a lot offers at least one form")
    if len(set(lot.forms)) != len(lot.forms):
        raise InvalidAgreement(f"{at}.forms", "a form is listed twice")
    seen: set[uuid.UUID] = set()
    ranks: set[int] = set()
    for j, provider in enumerate(lot.providers):
        if provider.provider_id in seen:
            raise InvalidAgreement(f"{at}.providers[{j}].providerId", "the provider is admitted twice")
        seen.add(provider.provider_id)
        if provider.rank is not None:
            if provider.rank < 1:
                raise InvalidAgreement(f"{at}.providers[{j}].rank", "a rank is 1 or more")
            if provider.rank in ranks:
                raise InvalidAgreement(f"{at}.providers[{j}].rank", "another provider has this rank")
            ranks.add(provider.rank)


def _check_price_item(index: int, item: PriceItem, lots: dict[str, Lot]) -> None:
    at = f"priceItems[{index}]"
    lot = lots.get(item.lot)
    if lot is None:
        raise InvalidAgreement(f"{at}.lot", "no lot of this name in the agreement")
    if item.form not in lot.forms:
        raise InvalidAgreement(f"{at}.form", "the lot does not offer this form")
    if not MIN_DURATION_MINUTES <= item.duration_minutes <= MAX_DURATION_MINUTES:
        raise InvalidAgreement(
            f"{at}.durationMinutes", f"must be {MIN_DURATION_MINUTES}–{MAX_DURATION_MINUTES} minutes"
        )
    if item.net_price_cents < 0:
        raise InvalidAgreement(f"{at}.netPriceCents", "must not be negative")


def _check_percent(field: str, value: int) -> None:
    if not 0 <= value <= 100:
        raise InvalidAgreement(field, "must be 0–100")


def _check_cancellation(terms: CancellationTerms) -> None:
    if not 0 <= terms.late_threshold_hours <= MAX_LATE_THRESHOLD_HOURS:
        raise InvalidAgreement(
            "cancellation.lateThresholdHours", f"must be 0–{MAX_LATE_THRESHOLD_HOURS} hours"
        )
    _check_percent("cancellation.lateCancellationChargePercent", terms.late_cancellation_charge_percent)
    _check_percent("cancellation.noShowChargePercent", terms.no_show_charge_percent)


def check_content(content: AgreementContent) -> None:
    """Every rule an agreement's content obeys in any state; raises :class:`InvalidAgreement`."""
    _text("number", content.number, max_length=64)
    _text("title", content.title, max_length=200)
    _check_validity(content.validity)
    lots: dict[str, Lot] = {}
    for i, lot in enumerate(content.lots):
        _check_lot(i, lot)
        if lot.name in lots:
            raise InvalidAgreement(f"lots[{i}].name", "another lot has this name")
        lots[lot.name] = lot
    keys: set[tuple[str, SupervisionForm, int, DeliveryMode, dt.date]] = set()
    for i, item in enumerate(content.price_items):
        _check_price_item(i, item, lots)
        key = (item.lot, item.form, item.duration_minutes, item.mode, item.valid_from)
        if key in keys:
            raise InvalidAgreement(
                f"priceItems[{i}]", "another item prices this lot, form, duration and mode from this date"
            )
        keys.add(key)
    _check_cancellation(content.cancellation)
    if not 0 <= content.payment_terms_days <= MAX_PAYMENT_TERMS_DAYS:
        raise InvalidAgreement("paymentTermsDays", f"must be 0–{MAX_PAYMENT_TERMS_DAYS} days")


def new_agreement(agreement_id: uuid.UUID, content: AgreementContent) -> FrameworkAgreement:
    check_content(content)
    return FrameworkAgreement(agreement_id=agreement_id, status=AgreementStatus.DRAFT, content=content)


def _without_providers(lots: Iterable[Lot]) -> list[Lot]:
    return [msgspec.structs.replace(lot, providers=()) for lot in lots]


def change(agreement: FrameworkAgreement, content: AgreementContent) -> FrameworkAgreement:
    """Replace a draft's content; an active agreement may change only its price list and providers.

    Returns ``agreement`` itself when nothing changes.
    """
    if agreement.status is AgreementStatus.ENDED:
        raise StateConflict("the agreement has ended")
    check_content(content)
    if content == agreement.content:
        return agreement
    if agreement.status is AgreementStatus.ACTIVE:
        old = agreement.content
        for field, same in (
            ("number", content.number == old.number),
            ("title", content.title == old.title),
            ("validity", content.validity == old.validity),
            ("cancellation", content.cancellation == old.cancellation),
            ("paymentTermsDays", content.payment_terms_days == old.payment_terms_days),
            ("lots", _without_providers(content.lots) == _without_providers(old.lots)),
        ):
            if not same:
                raise InvalidAgreement(
                    field, "an active agreement may change only its price list and admitted providers"
                )
        _check_activatable(content)
    return msgspec.structs.replace(agreement, content=content, version=agreement.version + 1)


def _check_activatable(content: AgreementContent) -> None:
    if not content.lots:
        raise InvalidAgreement("lots", "an agreement needs at least one lot")
    if not any(lot.providers for lot in content.lots):
        raise InvalidAgreement("lots", "an agreement needs at least one admitted provider")
    if not content.price_items:
        raise InvalidAgreement("priceItems", "an agreement needs at least one price item")


def activate(agreement: FrameworkAgreement) -> FrameworkAgreement:
    if agreement.status is not AgreementStatus.DRAFT:
        raise StateConflict(f"only a draft can be activated; this agreement is {agreement.status}")
    check_content(agreement.content)
    _check_activatable(agreement.content)
    return msgspec.structs.replace(agreement, status=AgreementStatus.ACTIVE, version=agreement.version + 1)


def end(agreement: FrameworkAgreement) -> FrameworkAgreement:
    if agreement.status is not AgreementStatus.ACTIVE:
        raise StateConflict(f"only an active agreement can be ended; this agreement is {agreement.status}")
    return msgspec.structs.replace(agreement, status=AgreementStatus.ENDED, version=agreement.version + 1)


def provider_ids(content: AgreementContent) -> list[uuid.UUID]:
    """Every admitted provider, each once, in the order they first appear."""
    return list(dict.fromkeys(p.provider_id for lot in content.lots for p in lot.providers))


def price_for(
    agreement: FrameworkAgreement,
    lot: str,
    form: SupervisionForm,
    duration_minutes: int,
    mode: DeliveryMode,
    on_date: dt.date,
) -> PriceItem | None:
    """The price item in force on ``on_date``: the newest one valid from that date or before.

    ``None`` when the agreement is not valid on that date or prices no such session.
    """
    validity = agreement.content.validity
    if not validity.starts_on <= on_date <= validity.hard_end_on:
        return None
    candidates = [
        item
        for item in agreement.content.price_items
        if item.lot == lot
        and item.form == form
        and item.duration_minutes == duration_minutes
        and item.mode == mode
        and item.valid_from <= on_date
    ]
    return max(candidates, key=lambda item: item.valid_from, default=None)


def price_list_for(
    agreement: FrameworkAgreement, lot: str, form: SupervisionForm, on_date: dt.date
) -> tuple[PriceItem, ...]:
    """Every price item of ``lot`` and ``form`` in force on ``on_date``, one per duration and mode.

    Empty when the agreement is not valid on that date.
    """
    in_force: dict[tuple[int, DeliveryMode], PriceItem] = {}
    for item in agreement.content.price_items:
        if item.lot != lot or item.form != form:
            continue
        price = price_for(agreement, lot, form, item.duration_minutes, item.mode, on_date)
        if price is not None:
            in_force[(item.duration_minutes, item.mode)] = price
    return tuple(in_force[key] for key in sorted(in_force))
