"""Events published by the orders service.

Agreement events carry what orders, sessions and billing need of a framework agreement: ids,
dates, lots with their admitted providers, the price list and the cancellation terms. The only
text is the agreement's number and title and the lots' names and regions — never free text.
They go to the buyer and to every admitted provider.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar, Literal

import msgspec

from shared.contracts import Event, register

__all__ = [
    "AdmittedProviderFact",
    "AgreementActivated",
    "AgreementChanged",
    "AgreementEnded",
    "AgreementFacts",
    "CancellationTermsFact",
    "LotFact",
    "PriceItemFact",
]

SupervisionForm = Literal[
    "individual",
    "pair",
    "team",
    "group",
    "work_community",
    "patient_work",
    "manager",
    "consultation",
    "process_change",
    "crisis",
]
DeliveryMode = Literal["remote", "at_buyer", "at_supervisor"]
QualificationType = Literal["story_training", "valvira_registration", "other"]
PriceUnit = Literal["per_session", "per_hour"]


class AdmittedProviderFact(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    provider_id: uuid.UUID
    rank: int | None = None


class LotFact(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    name: str
    forms: list[SupervisionForm]
    region: str
    required_qualifications: list[QualificationType]
    providers: list[AdmittedProviderFact]


class PriceItemFact(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    lot: str
    form: SupervisionForm
    duration_minutes: int
    mode: DeliveryMode
    unit: PriceUnit
    net_price_cents: int
    valid_from: dt.date


class CancellationTermsFact(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    late_threshold_hours: int
    late_cancellation_charge_percent: int
    no_show_charge_percent: int
    illness_exempt: bool


class AgreementFacts(Event, frozen=True, kw_only=True):
    """What an agreement's activated and changed events carry (not an event itself)."""

    agreement_id: uuid.UUID
    buyer_id: uuid.UUID
    number: str
    title: str
    starts_on: dt.date
    first_term_ends_on: dt.date
    hard_end_on: dt.date
    lots: list[LotFact]
    price_items: list[PriceItemFact]
    cancellation: CancellationTermsFact


@register
class AgreementActivated(AgreementFacts, frozen=True, kw_only=True):
    """A buyer's framework agreement came into force: orders may be placed under it."""

    event_type: ClassVar[str] = "orders.agreement.activated.v1"
    aggregate: ClassVar[str] = "agreement"


@register
class AgreementChanged(AgreementFacts, frozen=True, kw_only=True):
    """An active agreement's price list or admitted providers changed; all of it as it is now."""

    event_type: ClassVar[str] = "orders.agreement.changed.v1"
    aggregate: ClassVar[str] = "agreement"


@register
class AgreementEnded(Event, frozen=True, kw_only=True):
    """A framework agreement ended: no new orders under it."""

    event_type: ClassVar[str] = "orders.agreement.ended.v1"
    aggregate: ClassVar[str] = "agreement"

    agreement_id: uuid.UUID
    buyer_id: uuid.UUID
