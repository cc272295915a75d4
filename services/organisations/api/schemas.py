"""Request and response bodies of the organisations API, and the version headers of its resources.

Inputs forbid unknown fields; in updates an absent field stays as it is and ``null`` clears an
optional one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from services.organisations.domain.directory import DeliveryMode, Role, SupervisionForm
from services.organisations.domain.tenants import EInvoiceScheme, TenantKind, TenantSubtype

__all__ = [
    "ApproverOut",
    "AvailabilityUpdate",
    "CostCentreCreate",
    "CostCentreOut",
    "CostCentreUpdate",
    "EInvoiceAddressBody",
    "EInvoiceAddressOut",
    "IdentityEventOut",
    "LinkedIdentityOut",
    "OrgUnitCreate",
    "OrgUnitOut",
    "OrgUnitUpdate",
    "OtherQualificationBody",
    "OwnPersonOut",
    "PersonCreate",
    "PersonOut",
    "PersonUpdate",
    "PostalAddressBody",
    "QualificationBody",
    "StoryTrainingBody",
    "SupervisorProfileCreate",
    "SupervisorProfileOut",
    "SupervisorProfileUpdate",
    "TenantCreate",
    "TenantOut",
    "TenantUpdate",
    "ValviraRegistrationBody",
]


class _In(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    pass


class _Out(msgspec.Struct, frozen=True, rename="camel"):
    pass


Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


# --- versions ---

T = TypeVar("T")

# --- tenants ---


class PostalAddressBody(_In, frozen=True):
    street: Name
    postcode: Annotated[str, msgspec.Meta(min_length=1, max_length=16, examples=["33100"])]
    city: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    country: Annotated[
        str, msgspec.Meta(min_length=2, max_length=2, description="ISO 3166-1 alpha-2; FI unless given")
    ] = "FI"


class EInvoiceAddressBody(_In, frozen=True):
    address: Annotated[
        str,
        msgspec.Meta(
            min_length=12,
            max_length=40,
            description="OVT code (0037 + Y-tunnus digits + up to 5 characters) or Peppol id 0216:<OVT>",
            examples=["003720774740", "0216:003720774740"],
        ),
    ]
    operator_id: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=4,
                max_length=35,
                description="Välittäjätunnus of the receiving operator; required for an OVT address",
                examples=["003721291126"],
            ),
        ]
        | None
    ) = None


class EInvoiceAddressOut(_Out, frozen=True):
    scheme: EInvoiceScheme
    address: str
    operator_id: str | None


Iban = Annotated[str, msgspec.Meta(min_length=5, max_length=42, examples=["FI21 1234 5600 0007 85"])]
Bic = Annotated[str, msgspec.Meta(min_length=8, max_length=11, examples=["NDEAFIHH"])]
VatId = Annotated[str, msgspec.Meta(min_length=8, max_length=14, examples=["FI20774740"])]


class TenantCreate(_In, frozen=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="Legal or trade name")]
    kind: Annotated[TenantKind, msgspec.Meta(description="buyer (tilaaja) or provider (palveluntuottaja)")]
    business_id: Annotated[
        str,
        msgspec.Meta(
            min_length=8, max_length=10, description="Y-tunnus, e.g. 2077474-0", examples=["2077474-0"]
        ),
    ]
    subtype: TenantSubtype | None = None
    vat_id: VatId | None = None
    postal_address: PostalAddressBody | None = None
    e_invoice_address: EInvoiceAddressBody | None = None
    iban: Annotated[Iban, msgspec.Meta(description="Providers only")] | None = None
    bic: Annotated[Bic, msgspec.Meta(description="Derived from the IBAN when left out")] | None = None


class TenantUpdate(_In, frozen=True):
    name: Name | UnsetType = UNSET
    subtype: TenantSubtype | UnsetType | None = UNSET
    vat_id: VatId | UnsetType | None = UNSET
    postal_address: PostalAddressBody | UnsetType | None = UNSET
    e_invoice_address: EInvoiceAddressBody | UnsetType | None = UNSET
    iban: Iban | UnsetType | None = UNSET
    bic: Bic | UnsetType | None = UNSET


class TenantOut(_Out, frozen=True):
    id: uuid.UUID
    name: str
    kind: TenantKind
    subtype: TenantSubtype | None
    business_id: str
    vat_id: str | None
    postal_address: PostalAddressBody | None
    e_invoice_address: EInvoiceAddressOut | None
    iban: str | None
    bic: str | None
    active: bool
    version: int


# --- org units and cost centres ---


class OrgUnitCreate(_In, frozen=True):
    name: Name
    parent_id: uuid.UUID | None = None


class OrgUnitUpdate(_In, frozen=True):
    name: Name | UnsetType = UNSET
    parent_id: uuid.UUID | UnsetType | None = UNSET


class OrgUnitOut(_Out, frozen=True):
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    version: int


CostCentreCode = Annotated[str, msgspec.Meta(min_length=1, max_length=32, examples=["4100-KP"])]
Cents = Annotated[int, msgspec.Meta(ge=0, le=10**15, description="Euro cents", examples=[2_500_000])]


class CostCentreCreate(_In, frozen=True):
    org_unit_id: uuid.UUID
    code: CostCentreCode
    name: Name
    yearly_budget_cents: Cents


class CostCentreUpdate(_In, frozen=True):
    org_unit_id: uuid.UUID | UnsetType = UNSET
    code: CostCentreCode | UnsetType = UNSET
    name: Name | UnsetType = UNSET
    yearly_budget_cents: Cents | UnsetType = UNSET


class CostCentreOut(_Out, frozen=True):
    id: uuid.UUID
    org_unit_id: uuid.UUID
    code: str
    name: str
    yearly_budget_cents: int
    active: bool
    version: int


class ApproverOut(_Out, frozen=True):
    person_id: uuid.UUID
    name: str
    assigned_at: dt.datetime


# --- people ---

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, examples=["maija.meikalainen@pirha.fi"])]
Roles = Annotated[list[Role], msgspec.Meta(min_length=1, max_length=5)]
HrEmployeeNumber = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=32,
        description="The buyer's HR system's number for the person; never a henkilötunnus",
    ),
]


class PersonCreate(_In, frozen=True):
    name: Name
    email: Email
    roles: Roles
    hr_employee_number: HrEmployeeNumber | None = None


class PersonUpdate(_In, frozen=True):
    name: Name | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    roles: Roles | UnsetType = UNSET
    hr_employee_number: HrEmployeeNumber | UnsetType | None = UNSET


class PersonOut(_Out, frozen=True):
    id: uuid.UUID
    name: str
    email: str
    roles: list[Role]
    hr_employee_number: str | None
    active: bool
    version: int


class LinkedIdentityOut(_Out, frozen=True):
    issuer: Annotated[str, msgspec.Meta(description="The identity provider this login is at")]
    linked_at: Annotated[dt.datetime, msgspec.Meta(description="When the login was linked to this person")]
    last_login_at: Annotated[dt.datetime | None, msgspec.Meta(description="The latest login with it")]


class IdentityEventOut(_Out, frozen=True):
    action: Annotated[
        str,
        msgspec.Meta(description="linked, unlinked, email_changed, invitation_issued or invitation_redeemed"),
    ]
    actor: Annotated[
        str,
        msgspec.Meta(
            description="Who did it: an admin's or platform admin's subject, login:<issuer>, invitation:<id>"
        ),
    ]
    at: Annotated[dt.datetime, msgspec.Meta(description="When it happened")]
    detail: Annotated[
        dict[str, str],
        msgspec.Meta(
            description="What it was about: issuer and subject, the e-mails before and after, the invitation"
        ),
    ]


class OwnPersonOut(_Out, frozen=True):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The caller's person id")]
    name: Annotated[str, msgspec.Meta(description="The caller's name")]
    email: Annotated[str, msgspec.Meta(description="The caller's e-mail address")]
    roles: Annotated[list[Role], msgspec.Meta(description="What the caller may do in the tenant")]
    hr_employee_number: Annotated[str | None, msgspec.Meta(description="What HR systems know the caller by")]
    active: Annotated[bool, msgspec.Meta(description="False once deactivated")]
    version: Annotated[int, msgspec.Meta(description="The record's version (also the ETag)")]
    identities: Annotated[
        list[LinkedIdentityOut], msgspec.Meta(description="The logins linked to this person")
    ]
    identity_history: Annotated[
        list[IdentityEventOut],
        msgspec.Meta(
            description="Links, unlinks, e-mail changes and invitations of this person, newest first"
        ),
    ]


# --- supervisor profiles ---


class StoryTrainingBody(_In, frozen=True, tag="story_training", tag_field="type"):
    """Supervisor training to the STOry standard (työnohjaajakoulutus, 60 ECTS in full)."""

    institution: Name
    completed_on: dt.date
    ects: Annotated[float, msgspec.Meta(ge=0, le=1000)]


class ValviraRegistrationBody(_In, frozen=True, tag="valvira_registration", tag_field="type"):
    """A registration in Valvira's register of professionals, checked by a provider admin."""

    registration_number: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    verified_on: dt.date
    verified_by: Annotated[uuid.UUID, msgspec.Meta(description="Person id of the provider admin who checked")]


class OtherQualificationBody(_In, frozen=True, tag="other", tag_field="type"):
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


QualificationBody = StoryTrainingBody | ValviraRegistrationBody | OtherQualificationBody
Languages = Annotated[list[str], msgspec.Meta(max_length=20, description="ISO 639-1 codes, e.g. fi, sv, en")]
Regions = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]], msgspec.Meta(max_length=50)
]
Qualifications = Annotated[list[QualificationBody], msgspec.Meta(max_length=50)]


class SupervisorProfileCreate(_In, frozen=True):
    person_id: uuid.UUID
    forms: list[SupervisionForm] = []
    languages: Languages = []
    regions: Regions = []
    delivery_modes: list[DeliveryMode] = []
    available: bool = False
    qualifications: Qualifications = []


class SupervisorProfileUpdate(_In, frozen=True):
    forms: list[SupervisionForm] | UnsetType = UNSET
    languages: Languages | UnsetType = UNSET
    regions: Regions | UnsetType = UNSET
    delivery_modes: list[DeliveryMode] | UnsetType = UNSET
    available: bool | UnsetType = UNSET
    qualifications: Qualifications | UnsetType = UNSET


class AvailabilityUpdate(_In, frozen=True):
    available: bool


class SupervisorProfileOut(_Out, frozen=True):
    person_id: uuid.UUID
    forms: list[SupervisionForm]
    languages: list[str]
    regions: list[str]
    delivery_modes: list[DeliveryMode]
    available: bool
    qualifications: list[QualificationBody]
    version: int
