"""Events published by the organisations service.

Tenants are organisations, so their events carry what an invoice or an order needs about
them (business and VAT id, addresses, bank account). People are people: their events carry
the person id, roles, HR employee number and active flag — never an e-mail address, a name
or a personal identity code (henkilötunnus).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar, Literal

import msgspec

from shared.contracts import Event, register
from shared.contracts.vocabulary import DeliveryModeName, QualificationType, SupervisionFormName

__all__ = [
    "ApproverAssigned",
    "ApproverRemoved",
    "CostCentreCreated",
    "CostCentreDeactivated",
    "CostCentreFacts",
    "CostCentreUpdated",
    "EInvoiceAddress",
    "PersonCreated",
    "PersonDeactivated",
    "PersonFacts",
    "PersonUpdated",
    "PostalAddress",
    "QualificationFact",
    "SupervisorProfileCreated",
    "SupervisorProfileFacts",
    "SupervisorProfileUpdated",
    "TenantCreated",
    "TenantDeactivated",
    "TenantFacts",
    "TenantUpdated",
]

TenantKind = Literal["buyer", "provider"]
TenantSubtype = Literal[
    "welfare_area", "municipality", "company", "supervisor_company", "network", "sole_trader"
]
PersonRole = Literal["buyer_admin", "approver", "employee", "provider_admin", "supervisor"]
SupervisionForm = SupervisionFormName
DeliveryMode = DeliveryModeName


class PostalAddress(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    street: str
    postcode: str
    city: str
    country: str
    """ISO 3166-1 alpha-2."""


class EInvoiceAddress(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    scheme: Literal["ovt", "peppol"]
    address: str
    """An OVT code (``0037`` + Y-tunnus digits + suffix) or a Peppol id ``0216:<OVT>``."""
    operator_id: str | None = None
    """The e-invoice operator (välittäjätunnus)."""


class TenantFacts(Event, frozen=True, kw_only=True):
    """What a tenant's created and updated events carry (not an event itself)."""

    tenant_id: uuid.UUID
    name: str
    kind: TenantKind
    business_id: str
    # Added after the first release: defaults keep older payloads decodable.
    subtype: TenantSubtype | None = None
    vat_id: str | None = None
    postal_address: PostalAddress | None = None
    e_invoice_address: EInvoiceAddress | None = None
    iban: str | None = None
    """Providers only: where buyers pay their invoices."""
    bic: str | None = None


@register
class TenantCreated(TenantFacts, frozen=True, kw_only=True):
    """A buyer (welfare area, municipality, company) or a provider joined Tila."""

    event_type: ClassVar[str] = "organisations.tenant.created.v1"
    aggregate: ClassVar[str] = "tenant"


@register
class TenantUpdated(TenantFacts, frozen=True, kw_only=True):
    """A tenant's details changed; the event carries all of them as they are now."""

    event_type: ClassVar[str] = "organisations.tenant.updated.v1"
    aggregate: ClassVar[str] = "tenant"


@register
class TenantDeactivated(Event, frozen=True, kw_only=True):
    """A tenant was deactivated; its data stays, its users can no longer act."""

    event_type: ClassVar[str] = "organisations.tenant.deactivated.v1"
    aggregate: ClassVar[str] = "tenant"

    tenant_id: uuid.UUID


# --- a buyer's cost centres and who approves on them ---


class CostCentreFacts(Event, frozen=True, kw_only=True):
    """What a cost centre's created and updated events carry (not an event itself)."""

    cost_centre_id: uuid.UUID
    org_unit_id: uuid.UUID
    code: str
    name: str
    yearly_budget_cents: int
    active: bool


@register
class CostCentreCreated(CostCentreFacts, frozen=True, kw_only=True):
    """A buyer opened a cost centre (kustannuspaikka) that orders can be charged to."""

    event_type: ClassVar[str] = "organisations.cost_centre.created.v1"
    aggregate: ClassVar[str] = "cost_centre"


@register
class CostCentreUpdated(CostCentreFacts, frozen=True, kw_only=True):
    """A cost centre's code, name, budget or org unit changed; all its facts as they are now."""

    event_type: ClassVar[str] = "organisations.cost_centre.updated.v1"
    aggregate: ClassVar[str] = "cost_centre"


@register
class CostCentreDeactivated(Event, frozen=True, kw_only=True):
    """No new orders may be charged to the cost centre; what was charged stays."""

    event_type: ClassVar[str] = "organisations.cost_centre.deactivated.v1"
    aggregate: ClassVar[str] = "cost_centre"

    cost_centre_id: uuid.UUID


@register
class ApproverAssigned(Event, frozen=True, kw_only=True):
    """A person may now approve orders charged to the cost centre."""

    event_type: ClassVar[str] = "organisations.cost_centre.approver_assigned.v1"
    aggregate: ClassVar[str] = "cost_centre"

    cost_centre_id: uuid.UUID
    person_id: uuid.UUID


@register
class ApproverRemoved(Event, frozen=True, kw_only=True):
    """A person may no longer approve on the cost centre (also when they lose the role or leave)."""

    event_type: ClassVar[str] = "organisations.cost_centre.approver_removed.v1"
    aggregate: ClassVar[str] = "cost_centre"

    cost_centre_id: uuid.UUID
    person_id: uuid.UUID


# --- people ---


class PersonFacts(Event, frozen=True, kw_only=True):
    """What a person's created and updated events carry (not an event itself)."""

    person_id: uuid.UUID
    roles: list[PersonRole]
    hr_employee_number: str | None = None
    """What HR systems know the person by (buyers only); never a personal identity code."""
    active: bool


@register
class PersonCreated(PersonFacts, frozen=True, kw_only=True):
    """A tenant added a person with roles."""

    event_type: ClassVar[str] = "organisations.person.created.v1"
    aggregate: ClassVar[str] = "person"


@register
class PersonUpdated(PersonFacts, frozen=True, kw_only=True):
    """A person's roles or HR employee number changed (name and e-mail changes are not announced)."""

    event_type: ClassVar[str] = "organisations.person.updated.v1"
    aggregate: ClassVar[str] = "person"


@register
class PersonDeactivated(Event, frozen=True, kw_only=True):
    """A person left: they can no longer act, and their records stay."""

    event_type: ClassVar[str] = "organisations.person.deactivated.v1"
    aggregate: ClassVar[str] = "person"

    person_id: uuid.UUID


# --- supervisors ---


class QualificationFact(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What orders need to check a lot's required qualifications; no registration numbers or text."""

    type: QualificationType
    ects: float | None = None
    """STOry training: its extent."""
    completed_on: dt.date | None = None
    """STOry training: when it was completed."""
    verified_on: dt.date | None = None
    """Valvira registration: when the provider last verified it."""


class SupervisorProfileFacts(Event, frozen=True, kw_only=True):
    """What a supervisor profile's created and updated events carry (not an event itself)."""

    person_id: uuid.UUID
    forms: list[SupervisionForm]
    languages: list[str]
    """ISO 639-1."""
    regions: list[str]
    delivery_modes: list[DeliveryMode]
    available: bool
    qualifications: list[QualificationFact]


@register
class SupervisorProfileCreated(SupervisorProfileFacts, frozen=True, kw_only=True):
    """A provider described what one of its supervisors offers."""

    event_type: ClassVar[str] = "organisations.supervisor_profile.created.v1"
    aggregate: ClassVar[str] = "supervisor_profile"


@register
class SupervisorProfileUpdated(SupervisorProfileFacts, frozen=True, kw_only=True):
    """A supervisor's offer, qualifications or availability changed; all of it as it is now."""

    event_type: ClassVar[str] = "organisations.supervisor_profile.updated.v1"
    aggregate: ClassVar[str] = "supervisor_profile"
