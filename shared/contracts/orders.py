"""Events published by the orders service.

Agreement events carry what orders, sessions and billing need of a framework agreement: ids,
dates, lots with their admitted providers, the price list and the cancellation terms. The only
text is the agreement's number and title and the lots' names and regions — never free text.
They go to the buyer and to every admitted provider.

Order events carry what sessions and billing need of a supervision order: ids, the participants,
counts, durations, dates, and from approval on the price and cancellation snapshots. No
justification, override reason or any other free text. They go to the buyer and the provider.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, ClassVar, Literal

import msgspec

from shared.contracts import Event, register
from shared.contracts.vocabulary import DeliveryModeName, QualificationType, SupervisionFormName

__all__ = [
    "AdmittedProviderFact",
    "AgreementActivated",
    "AgreementChanged",
    "AgreementEnded",
    "AgreementFacts",
    "CancellationTermsFact",
    "LotFact",
    "OrderAccepted",
    "OrderApproved",
    "OrderCancelled",
    "OrderCompleted",
    "OrderConflictAccepted",
    "OrderConflictDeclared",
    "OrderDeclined",
    "OrderExtended",
    "OrderExtensionRejected",
    "OrderExtensionRequested",
    "OrderFacts",
    "OrderInterrupted",
    "OrderOffered",
    "OrderRejected",
    "OrderStarted",
    "OrderSubmitted",
    "OrderSupervisorAssigned",
    "PriceItemFact",
]

SupervisionForm = SupervisionFormName
DeliveryMode = DeliveryModeName
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
    late_threshold_hours: Annotated[
        int, msgspec.Meta(description="A cancellation fewer than this many hours before the session is late")
    ]
    late_cancellation_charge_percent: Annotated[
        int, msgspec.Meta(description="Share of the session price charged for a late cancellation (0–100)")
    ]
    no_show_charge_percent: Annotated[
        int, msgspec.Meta(description="Share of the session price charged for a no-show (0–100)")
    ]
    illness_exempt: Annotated[
        bool, msgspec.Meta(description="Whether a late cancellation for illness is free of charge")
    ]


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


OrderStatus = Literal[
    "draft",
    "submitted",
    "approved",
    "rejected",
    "offered",
    "accepted",
    "declined",
    "active",
    "completed",
    "interrupted",
    "cancelled",
]
SelectionMethod = Literal["ranking", "mini_competition", "needs_based", "internal"]


class OrderFacts(Event, frozen=True, kw_only=True):
    """What every order event carries: the order as it is after the transition (not an event itself)."""

    order_id: uuid.UUID
    buyer_id: uuid.UUID
    provider_id: uuid.UUID
    """The provider the order is (or was last) offered to."""
    cost_centre_id: uuid.UUID
    agreement_id: uuid.UUID
    lot: str
    """The lot's name in the agreement."""
    form: SupervisionForm
    participants: list[uuid.UUID]
    planned_sessions: int
    duration_minutes: int
    starts_on: dt.date
    ends_on: dt.date
    mode: DeliveryMode
    selection: SelectionMethod
    status: OrderStatus
    supervisor_id: uuid.UUID | None = None
    price: PriceItemFact | None = None
    """Snapshot at approval."""
    cancellation: CancellationTermsFact | None = None
    """Snapshot at approval."""
    committed_cents: int | None = None
    """The cost approved against the cost centre's budget."""
    budget_overridden: bool = False
    """Approved beyond the budget room (the audited reason stays in orders)."""
    declined_by_providers: list[uuid.UUID] = []
    price_list: list[PriceItemFact] = []
    """Snapshot at approval: every price item of the order's lot and form valid on its start date,
    so a session of another allowed duration or delivery mode is priced from the snapshot too."""
    payment_terms_days: int | None = None
    """Snapshot at approval: the agreement's payment terms (days from the invoice date)."""
    agreement_number: str | None = None
    """The framework agreement's number: the contract reference on invoices."""
    order_number: str | None = None
    """The buyer's human-readable order number (``TO-2027-000123``): what people say, and the order
    reference on invoices. Added within v1 with a default: events written before it decode (null),
    and consumers that do not know it ignore it."""


@register
class OrderSubmitted(OrderFacts, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "orders.order.submitted.v1"
    aggregate: ClassVar[str] = "order"


@register
class OrderApproved(OrderFacts, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "orders.order.approved.v1"
    aggregate: ClassVar[str] = "order"


@register
class OrderRejected(OrderFacts, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "orders.order.rejected.v1"
    aggregate: ClassVar[str] = "order"


@register
class OrderOffered(OrderFacts, frozen=True, kw_only=True):
    """Offered to ``provider_id`` (also when a declined ranking offer passes to the next provider)."""

    event_type: ClassVar[str] = "orders.order.offered.v1"
    aggregate: ClassVar[str] = "order"


@register
class OrderConflictDeclared(OrderFacts, frozen=True, kw_only=True):
    """The supervisor declared (or denied) prior relationships; only the count of related people."""

    event_type: ClassVar[str] = "orders.order.conflict_declared.v1"
    aggregate: ClassVar[str] = "order"

    related_participant_count: int = 0


@register
class OrderSupervisorAssigned(OrderFacts, frozen=True, kw_only=True):
    """The provider named the supervisor who will run the process (``supervisor_id`` in the facts)."""

    event_type: ClassVar[str] = "orders.order.supervisor_assigned.v1"
    aggregate: ClassVar[str] = "order"


@register
class OrderConflictAccepted(OrderFacts, frozen=True, kw_only=True):
    """One of the people a declared conflict needs (an approver, an affected participant) accepted it:
    who (``accepted_by``, a person id), as which party and when. Null in events written before these
    fields existed."""

    event_type: ClassVar[str] = "orders.order.conflict_accepted.v1"
    aggregate: ClassVar[str] = "order"

    accepted_by: uuid.UUID | None = None
    accepted_as: Literal["approver", "participant"] | None = None
    accepted_at: dt.datetime | None = None
    """UTC."""


@register
class OrderAccepted(OrderFacts, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "orders.order.accepted.v1"
    aggregate: ClassVar[str] = "order"


@register
class OrderDeclined(OrderFacts, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "orders.order.declined.v1"
    aggregate: ClassVar[str] = "order"


@register
class OrderStarted(OrderFacts, frozen=True, kw_only=True):
    """The accepted order became an active supervision process: its first session was held
    (``session_id``), or a party started it by hand before that (``session_id`` null)."""

    event_type: ClassVar[str] = "orders.order.started.v1"
    aggregate: ClassVar[str] = "order"

    session_id: uuid.UUID | None = None


@register
class OrderCompleted(OrderFacts, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "orders.order.completed.v1"
    aggregate: ClassVar[str] = "order"


@register
class OrderInterrupted(OrderFacts, frozen=True, kw_only=True):
    """Either side ended an active process early."""

    event_type: ClassVar[str] = "orders.order.interrupted.v1"
    aggregate: ClassVar[str] = "order"


@register
class OrderCancelled(OrderFacts, frozen=True, kw_only=True):
    """The buyer cancelled the order before the process started."""

    event_type: ClassVar[str] = "orders.order.cancelled.v1"
    aggregate: ClassVar[str] = "order"


@register
class OrderExtensionRequested(OrderFacts, frozen=True, kw_only=True):
    """More sessions were asked for; they count only once an approver approves (``OrderExtended``)."""

    event_type: ClassVar[str] = "orders.order.extension_requested.v1"
    aggregate: ClassVar[str] = "order"

    additional_sessions: int


@register
class OrderExtended(OrderFacts, frozen=True, kw_only=True):
    """An extension was approved: ``planned_sessions`` is the new total."""

    event_type: ClassVar[str] = "orders.order.extended.v1"
    aggregate: ClassVar[str] = "order"

    additional_sessions: int


@register
class OrderExtensionRejected(OrderFacts, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "orders.order.extension_rejected.v1"
    aggregate: ClassVar[str] = "order"
