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
    street: Annotated[Name, msgspec.Meta(description="Street address")]
    postcode: Annotated[
        Annotated[str, msgspec.Meta(min_length=1, max_length=16, examples=["33100"])],
        msgspec.Meta(description="Postal code"),
    ]
    city: Annotated[
        Annotated[str, msgspec.Meta(min_length=1, max_length=100)],
        msgspec.Meta(description="Post office or city"),
    ]
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
    scheme: Annotated[
        EInvoiceScheme,
        msgspec.Meta(description="The address scheme: OVT (Finnish EDI id) or a Peppol participant id"),
    ]
    address: Annotated[str, msgspec.Meta(description="The e-invoice address")]
    operator_id: Annotated[
        str | None,
        msgspec.Meta(description="The e-invoice operator's id (välittäjätunnus), when the scheme needs one"),
    ]


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
    subtype: Annotated[
        TenantSubtype | None,
        msgspec.Meta(description="What kind of buyer or provider the tenant is (e.g. welfare area, company)"),
    ] = None
    vat_id: Annotated[
        VatId | None, msgspec.Meta(description="The EU VAT number (FI + the business id's digits)")
    ] = None
    postal_address: Annotated[
        PostalAddressBody | None, msgspec.Meta(description="The postal address invoices and letters go to")
    ] = None
    e_invoice_address: Annotated[
        EInvoiceAddressBody | None,
        msgspec.Meta(description="Where e-invoices (Finvoice, Peppol) to the tenant go"),
    ] = None
    iban: Annotated[Iban, msgspec.Meta(description="Providers only")] | None = None
    bic: Annotated[Bic, msgspec.Meta(description="Derived from the IBAN when left out")] | None = None


class TenantUpdate(_In, frozen=True):
    name: Annotated[Name | UnsetType, msgspec.Meta(description="Legal or trade name")] = UNSET
    subtype: Annotated[
        TenantSubtype | UnsetType | None,
        msgspec.Meta(description="What kind of buyer or provider the tenant is (e.g. welfare area, company)"),
    ] = UNSET
    vat_id: Annotated[
        VatId | UnsetType | None,
        msgspec.Meta(description="The EU VAT number (FI + the business id's digits)"),
    ] = UNSET
    postal_address: Annotated[
        PostalAddressBody | UnsetType | None,
        msgspec.Meta(description="The postal address invoices and letters go to"),
    ] = UNSET
    e_invoice_address: Annotated[
        EInvoiceAddressBody | UnsetType | None,
        msgspec.Meta(description="Where e-invoices (Finvoice, Peppol) to the tenant go"),
    ] = UNSET
    iban: Annotated[
        Iban | UnsetType | None,
        msgspec.Meta(description="The provider's bank account (IBAN) invoices ask payment to"),
    ] = UNSET
    bic: Annotated[Bic | UnsetType | None, msgspec.Meta(description="The bank's BIC for the IBAN")] = UNSET


class TenantOut(_Out, frozen=True):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The tenant's id")]
    name: Annotated[str, msgspec.Meta(description="Legal or trade name")]
    kind: TenantKind
    subtype: Annotated[
        TenantSubtype | None,
        msgspec.Meta(description="What kind of buyer or provider the tenant is (e.g. welfare area, company)"),
    ]
    business_id: Annotated[str, msgspec.Meta(description="The Finnish business id (Y-tunnus)")]
    vat_id: Annotated[
        str | None, msgspec.Meta(description="The EU VAT number (FI + the business id's digits)")
    ]
    postal_address: Annotated[
        PostalAddressBody | None, msgspec.Meta(description="The postal address invoices and letters go to")
    ]
    e_invoice_address: Annotated[
        EInvoiceAddressOut | None,
        msgspec.Meta(description="Where e-invoices (Finvoice, Peppol) to the tenant go"),
    ]
    iban: Annotated[
        str | None, msgspec.Meta(description="The provider's bank account (IBAN) invoices ask payment to")
    ]
    bic: Annotated[str | None, msgspec.Meta(description="The bank's BIC for the IBAN")]
    active: Annotated[
        bool,
        msgspec.Meta(
            description=(
                "Whether the tenant is active; an inactive tenant can neither order nor be ordered from"
            )
        ),
    ]
    version: Annotated[
        int, msgspec.Meta(description="The tenant's version; its ETag, to send back as If-Match")
    ]


# --- org units and cost centres ---


class OrgUnitCreate(_In, frozen=True):
    name: Annotated[Name, msgspec.Meta(description="The org unit's name")]
    parent_id: Annotated[
        uuid.UUID | None, msgspec.Meta(description="The unit it belongs under; absent for a top-level unit")
    ] = None


class OrgUnitUpdate(_In, frozen=True):
    name: Annotated[Name | UnsetType, msgspec.Meta(description="The org unit's name")] = UNSET
    parent_id: Annotated[
        uuid.UUID | UnsetType | None,
        msgspec.Meta(description="The unit it belongs under; absent for a top-level unit"),
    ] = UNSET


class OrgUnitOut(_Out, frozen=True):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The org unit's id")]
    name: Annotated[str, msgspec.Meta(description="The org unit's name")]
    parent_id: Annotated[
        uuid.UUID | None, msgspec.Meta(description="The unit it belongs under; absent for a top-level unit")
    ]
    version: Annotated[
        int, msgspec.Meta(description="The unit's version; its ETag, to send back as If-Match")
    ]


CostCentreCode = Annotated[str, msgspec.Meta(min_length=1, max_length=32, examples=["4100-KP"])]
Cents = Annotated[int, msgspec.Meta(ge=0, le=10**15, description="Euro cents", examples=[2_500_000])]


class CostCentreCreate(_In, frozen=True):
    org_unit_id: Annotated[uuid.UUID, msgspec.Meta(description="The org unit the cost centre belongs to")]
    code: Annotated[
        CostCentreCode, msgspec.Meta(description="The buyer's code for the cost centre (kustannuspaikka)")
    ]
    name: Annotated[Name, msgspec.Meta(description="The cost centre's name")]
    yearly_budget_cents: Annotated[
        Cents, msgspec.Meta(description="The yearly supervision budget, in euro cents")
    ]


class CostCentreUpdate(_In, frozen=True):
    org_unit_id: Annotated[
        uuid.UUID | UnsetType, msgspec.Meta(description="The org unit the cost centre belongs to")
    ] = UNSET
    code: Annotated[
        CostCentreCode | UnsetType,
        msgspec.Meta(description="The buyer's code for the cost centre (kustannuspaikka)"),
    ] = UNSET
    name: Annotated[Name | UnsetType, msgspec.Meta(description="The cost centre's name")] = UNSET
    yearly_budget_cents: Annotated[
        Cents | UnsetType, msgspec.Meta(description="The yearly supervision budget, in euro cents")
    ] = UNSET


class CostCentreOut(_Out, frozen=True):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The cost centre's id")]
    org_unit_id: Annotated[uuid.UUID, msgspec.Meta(description="The org unit the cost centre belongs to")]
    code: Annotated[str, msgspec.Meta(description="The buyer's code for the cost centre (kustannuspaikka)")]
    name: Annotated[str, msgspec.Meta(description="The cost centre's name")]
    yearly_budget_cents: Annotated[
        int, msgspec.Meta(description="The yearly supervision budget, in euro cents")
    ]
    active: Annotated[bool, msgspec.Meta(description="Whether orders may be made on the cost centre")]
    version: Annotated[
        int, msgspec.Meta(description="The cost centre's version; its ETag, to send back as If-Match")
    ]


class ApproverOut(_Out, frozen=True):
    person_id: Annotated[uuid.UUID, msgspec.Meta(description="The approver")]
    name: Annotated[str, msgspec.Meta(description="The approver's name")]
    assigned_at: Annotated[
        dt.datetime, msgspec.Meta(description="When the person became an approver of the cost centre")
    ]


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
    name: Annotated[Name, msgspec.Meta(description="The person's name")]
    email: Annotated[Email, msgspec.Meta(description="The person's work e-mail; their login matches it")]
    roles: Annotated[
        Roles,
        msgspec.Meta(
            description=(
                "The person's roles in the tenant (buyer_admin, approver, employee, "
                "provider_admin, supervisor)"
            )
        ),
    ]
    hr_employee_number: Annotated[
        HrEmployeeNumber | None,
        msgspec.Meta(description="The employee number in the buyer's HR system, for working-time events"),
    ] = None


class PersonUpdate(_In, frozen=True):
    name: Annotated[Name | UnsetType, msgspec.Meta(description="The person's name")] = UNSET
    email: Annotated[
        Email | UnsetType, msgspec.Meta(description="The person's work e-mail; their login matches it")
    ] = UNSET
    roles: Annotated[
        Roles | UnsetType,
        msgspec.Meta(
            description=(
                "The person's roles in the tenant (buyer_admin, approver, employee, "
                "provider_admin, supervisor)"
            )
        ),
    ] = UNSET
    hr_employee_number: Annotated[
        HrEmployeeNumber | UnsetType | None,
        msgspec.Meta(description="The employee number in the buyer's HR system, for working-time events"),
    ] = UNSET


class PersonOut(_Out, frozen=True):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The person's id")]
    name: Annotated[str, msgspec.Meta(description="The person's name")]
    email: Annotated[str, msgspec.Meta(description="The person's work e-mail; their login matches it")]
    roles: Annotated[
        list[Role],
        msgspec.Meta(
            description=(
                "The person's roles in the tenant (buyer_admin, approver, employee, "
                "provider_admin, supervisor)"
            )
        ),
    ]
    hr_employee_number: Annotated[
        str | None,
        msgspec.Meta(description="The employee number in the buyer's HR system, for working-time events"),
    ]
    active: Annotated[bool, msgspec.Meta(description="Whether the person may log in and act")]
    version: Annotated[
        int, msgspec.Meta(description="The person's version; its ETag, to send back as If-Match")
    ]


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

    institution: Annotated[Name, msgspec.Meta(description="Who gave the supervisor training")]
    completed_on: Annotated[dt.date, msgspec.Meta(description="When the training was completed")]
    ects: Annotated[
        Annotated[float, msgspec.Meta(ge=0, le=1000)],
        msgspec.Meta(description="The training's extent in ECTS credits"),
    ]


class ValviraRegistrationBody(_In, frozen=True, tag="valvira_registration", tag_field="type"):
    """A registration in Valvira's register of professionals, checked by a provider admin."""

    registration_number: Annotated[
        Annotated[str, msgspec.Meta(min_length=1, max_length=20)],
        msgspec.Meta(description="The registration number in Valvira's register (Terhikki)"),
    ]
    verified_on: Annotated[
        dt.date, msgspec.Meta(description="When a provider admin checked the registration")
    ]
    verified_by: Annotated[uuid.UUID, msgspec.Meta(description="Person id of the provider admin who checked")]


class OtherQualificationBody(_In, frozen=True, tag="other", tag_field="type"):
    description: Annotated[
        Annotated[str, msgspec.Meta(min_length=1, max_length=500)],
        msgspec.Meta(description="The qualification in words"),
    ]


QualificationBody = StoryTrainingBody | ValviraRegistrationBody | OtherQualificationBody
Languages = Annotated[list[str], msgspec.Meta(max_length=20, description="ISO 639-1 codes, e.g. fi, sv, en")]
Regions = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]], msgspec.Meta(max_length=50)
]
Qualifications = Annotated[list[QualificationBody], msgspec.Meta(max_length=50)]


class SupervisorProfileCreate(_In, frozen=True):
    person_id: Annotated[uuid.UUID, msgspec.Meta(description="The provider's person who supervises")]
    forms: Annotated[
        list[SupervisionForm], msgspec.Meta(description="The supervision forms the supervisor offers")
    ] = []
    languages: Annotated[
        Languages, msgspec.Meta(description="The languages the supervisor supervises in (ISO 639-1)")
    ] = []
    regions: Annotated[Regions, msgspec.Meta(description="The regions the supervisor works in")] = []
    delivery_modes: Annotated[
        list[DeliveryMode],
        msgspec.Meta(description="How the supervisor delivers sessions (on site, remote, …)"),
    ] = []
    available: Annotated[bool, msgspec.Meta(description="Whether the supervisor takes new orders")] = False
    qualifications: Annotated[
        Qualifications,
        msgspec.Meta(description="The supervisor's qualifications (training, Valvira registration, other)"),
    ] = []


class SupervisorProfileUpdate(_In, frozen=True):
    forms: Annotated[
        list[SupervisionForm] | UnsetType,
        msgspec.Meta(description="The supervision forms the supervisor offers"),
    ] = UNSET
    languages: Annotated[
        Languages | UnsetType,
        msgspec.Meta(description="The languages the supervisor supervises in (ISO 639-1)"),
    ] = UNSET
    regions: Annotated[
        Regions | UnsetType, msgspec.Meta(description="The regions the supervisor works in")
    ] = UNSET
    delivery_modes: Annotated[
        list[DeliveryMode] | UnsetType,
        msgspec.Meta(description="How the supervisor delivers sessions (on site, remote, …)"),
    ] = UNSET
    available: Annotated[
        bool | UnsetType, msgspec.Meta(description="Whether the supervisor takes new orders")
    ] = UNSET
    qualifications: Annotated[
        Qualifications | UnsetType,
        msgspec.Meta(description="The supervisor's qualifications (training, Valvira registration, other)"),
    ] = UNSET


class AvailabilityUpdate(_In, frozen=True):
    available: Annotated[bool, msgspec.Meta(description="Whether the supervisor takes new orders")]


class SupervisorProfileOut(_Out, frozen=True):
    person_id: Annotated[uuid.UUID, msgspec.Meta(description="The provider's person who supervises")]
    forms: Annotated[
        list[SupervisionForm], msgspec.Meta(description="The supervision forms the supervisor offers")
    ]
    languages: Annotated[
        list[str], msgspec.Meta(description="The languages the supervisor supervises in (ISO 639-1)")
    ]
    regions: Annotated[list[str], msgspec.Meta(description="The regions the supervisor works in")]
    delivery_modes: Annotated[
        list[DeliveryMode],
        msgspec.Meta(description="How the supervisor delivers sessions (on site, remote, …)"),
    ]
    available: Annotated[bool, msgspec.Meta(description="Whether the supervisor takes new orders")]
    qualifications: Annotated[
        list[QualificationBody],
        msgspec.Meta(description="The supervisor's qualifications (training, Valvira registration, other)"),
    ]
    version: Annotated[
        int, msgspec.Meta(description="The profile's version; its ETag, to send back as If-Match")
    ]
