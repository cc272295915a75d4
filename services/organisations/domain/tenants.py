"""Tenants: who they are and what makes a valid one (business and VAT id, addresses, bank account)."""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Any

import msgspec
import pycountry
from msgspec import UNSET, UnsetType
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.fi import alv, ytunnus

from shared.errors import RuleBroken, WrongState

__all__ = [
    "SUBTYPES",
    "EInvoiceAddress",
    "EInvoiceScheme",
    "InvalidTenant",
    "PostalAddress",
    "RuleBroken",
    "StateConflict",
    "Tenant",
    "TenantChanges",
    "TenantDetails",
    "TenantKind",
    "TenantSubtype",
    "deactivate_tenant",
    "new_tenant",
    "normalise_business_id",
    "normalise_e_invoice_address",
    "normalise_iban_and_bic",
    "normalise_ovt",
    "normalise_vat_id",
    "update_tenant",
    "valid_text",
]


# A broken rule is the shared ``RuleBroken``: ``field`` names it as the API spells it (``vatId``,
# ``postalAddress.city``); the use case says where the request carries it.


class InvalidTenant(RuleBroken):
    pass


class StateConflict(WrongState):
    """The change is valid in itself but not in the thing's current state (e.g. deactivated)."""


class TenantKind(StrEnum):
    BUYER = "buyer"
    """Welfare area (hyvinvointialue), municipality or company that orders supervision."""
    PROVIDER = "provider"
    """Supervisor company, network or sole trader that delivers it."""


class TenantSubtype(StrEnum):
    WELFARE_AREA = "welfare_area"
    """Hyvinvointialue: one of the 21 that run social and health care since 2023."""
    MUNICIPALITY = "municipality"
    """Kunta, e.g. Helsinki, which still runs its own social and health care."""
    COMPANY = "company"
    """A company buying supervision for its own staff."""
    SUPERVISOR_COMPANY = "supervisor_company"
    """Työnohjausyritys that employs or contracts its supervisors."""
    NETWORK = "network"
    """Työnohjaajaverkosto: independent supervisors who tender and invoice as one."""
    SOLE_TRADER = "sole_trader"
    """Toiminimi: a supervisor working on their own account."""


SUBTYPES: dict[TenantKind, frozenset[TenantSubtype]] = {
    TenantKind.BUYER: frozenset(
        {TenantSubtype.WELFARE_AREA, TenantSubtype.MUNICIPALITY, TenantSubtype.COMPANY}
    ),
    TenantKind.PROVIDER: frozenset(
        {TenantSubtype.SUPERVISOR_COMPANY, TenantSubtype.NETWORK, TenantSubtype.SOLE_TRADER}
    ),
}


class PostalAddress(msgspec.Struct, frozen=True, kw_only=True):
    street: str
    postcode: str
    city: str
    country: str = "FI"


class EInvoiceScheme(StrEnum):
    OVT = "ovt"
    """OVT-tunnus (Finvoice, through an operator): ``0037`` + Y-tunnus digits + up to 5 characters."""
    PEPPOL = "peppol"
    """Peppol participant id in the Finnish OVT scheme: ``0216:<OVT>``."""


class EInvoiceAddress(msgspec.Struct, frozen=True, kw_only=True):
    address: str
    operator_id: str | None = None
    """Välittäjätunnus of the receiving operator; needed to route an OVT address."""

    @property
    def scheme(self) -> EInvoiceScheme:
        return EInvoiceScheme.PEPPOL if self.address.startswith(_PEPPOL_SCHEME) else EInvoiceScheme.OVT


class TenantDetails(msgspec.Struct, frozen=True, kw_only=True):
    """What a tenant may add to its name, kind and business id; everything is optional."""

    subtype: TenantSubtype | None = None
    vat_id: str | None = None
    postal_address: PostalAddress | None = None
    e_invoice_address: EInvoiceAddress | None = None
    iban: str | None = None
    """Providers only: the account buyers pay invoices to."""
    bic: str | None = None


class Tenant(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: uuid.UUID
    name: str
    kind: TenantKind
    business_id: str
    """The Y-tunnus; it identifies the organisation, so it never changes."""
    details: TenantDetails = TenantDetails()
    active: bool = True
    version: int = 1


class TenantChanges(msgspec.Struct, frozen=True, kw_only=True):
    """A partial update: ``UNSET`` keeps a value, ``None`` clears an optional one."""

    name: str | UnsetType = UNSET
    subtype: TenantSubtype | UnsetType | None = UNSET
    vat_id: str | UnsetType | None = UNSET
    postal_address: PostalAddress | UnsetType | None = UNSET
    e_invoice_address: EInvoiceAddress | UnsetType | None = UNSET
    iban: str | UnsetType | None = UNSET
    bic: str | UnsetType | None = UNSET


# --- identifiers ---


def normalise_business_id(value: str) -> str:
    """A Y-tunnus in its canonical ``1234567-8`` form, or :class:`InvalidTenant`."""
    try:
        return str(ytunnus.format(ytunnus.validate(value)))
    except StdnumValidationError as exc:
        raise InvalidTenant("businessId", f"not a valid Y-tunnus: {exc}") from None


def normalise_vat_id(value: str, business_id: str) -> str:
    """``FI`` + the eight digits of ``business_id``; a valid VAT id of another business is refused."""
    try:
        digits = str(alv.validate(value))
    except StdnumValidationError as exc:
        raise InvalidTenant("vatId", f"not a valid Finnish VAT id: {exc}") from None
    if digits != business_id.replace("-", ""):
        raise InvalidTenant("vatId", "must be FI followed by the eight digits of the business id")
    return f"FI{digits}"


_OVT = re.compile(r"0037(?P<business_id>\d{8})(?P<suffix>[0-9A-Z]{0,5})")
_PEPPOL_SCHEME = "0216:"
_OPERATOR_ID = re.compile(r"[0-9A-Z]{4,35}")


def _compact(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


def normalise_ovt(value: str, field: str) -> str:
    """An OVT code: ``0037``, the eight digits of a valid Y-tunnus and an optional suffix of up to 5."""
    compact = _compact(value)
    match = _OVT.fullmatch(compact)
    if match is None:
        raise InvalidTenant(
            field, "not an OVT code: 0037, the eight digits of a Y-tunnus and up to five more characters"
        )
    if not ytunnus.is_valid(match["business_id"]):
        raise InvalidTenant(field, "not an OVT code: the Y-tunnus in it has a wrong check digit")
    return compact


def normalise_e_invoice_address(address: EInvoiceAddress) -> EInvoiceAddress:
    """An OVT code with its operator, or a Peppol id ``0216:<OVT>`` (operator optional)."""
    field = "eInvoiceAddress.address"
    raw = address.address.strip()
    scheme, colon, participant = raw.rpartition(":")
    if colon:
        if f"{scheme.strip()}:" != _PEPPOL_SCHEME:
            raise InvalidTenant(field, "a Peppol participant id must use the Finnish OVT scheme 0216")
        normalised = _PEPPOL_SCHEME + normalise_ovt(participant, field)
    else:
        normalised = normalise_ovt(raw, field)
    operator_id = _compact(address.operator_id) if address.operator_id is not None else None
    if operator_id is not None and _OPERATOR_ID.fullmatch(operator_id) is None:
        raise InvalidTenant("eInvoiceAddress.operatorId", "an operator id is 4–35 letters and digits")
    if operator_id is None and not colon:
        raise InvalidTenant(
            "eInvoiceAddress.operatorId", "an OVT address needs the operator (välittäjä) that receives it"
        )
    return EInvoiceAddress(address=normalised, operator_id=operator_id)


def normalise_iban_and_bic(iban: str, bic: str | None) -> tuple[str, str | None]:
    """The IBAN in compact form and its BIC: the one given (same country), else the bank's if known."""
    try:
        account = IBAN(iban)
    except SchwiftyException as exc:
        raise InvalidTenant("iban", f"not a valid IBAN: {exc}") from None
    if bic is None:
        known = account.bic
        return account.compact, str(known.compact) if known is not None else None
    try:
        given = BIC(bic)
    except SchwiftyException as exc:
        raise InvalidTenant("bic", f"not a valid BIC: {exc}") from None
    if given.country_code != account.country_code:
        raise InvalidTenant("bic", "the BIC is of another country than the IBAN")
    return account.compact, str(given.compact)


# --- addresses and names ---


def valid_text(field: str, value: str, *, max_length: int = 200, error: type[RuleBroken] = RuleBroken) -> str:
    """``value`` stripped; blank or too long is refused on ``field``."""
    value = value.strip()
    if not value:
        raise error(field, "must not be blank")
    if len(value) > max_length:
        raise error(field, f"at most {max_length} characters")
    return value


_FINNISH_POSTCODE = re.compile(r"\d{5}")
_POSTCODE = re.compile(r"[0-9A-Z][0-9A-Z -]{0,14}")


def _postal_address(address: PostalAddress) -> PostalAddress:
    country = address.country.strip().upper()
    if pycountry.countries.get(alpha_2=country) is None:
        raise InvalidTenant("postalAddress.country", "not an ISO 3166-1 alpha-2 country code")
    postcode = address.postcode.strip().upper()
    if country == "FI" and _FINNISH_POSTCODE.fullmatch(postcode) is None:
        raise InvalidTenant("postalAddress.postcode", "a Finnish postcode is five digits")
    if _POSTCODE.fullmatch(postcode) is None:
        raise InvalidTenant("postalAddress.postcode", "not a postcode")
    return PostalAddress(
        street=valid_text("postalAddress.street", address.street, error=InvalidTenant),
        postcode=postcode,
        city=valid_text("postalAddress.city", address.city, max_length=100, error=InvalidTenant),
        country=country,
    )


def _details(kind: TenantKind, business_id: str, details: TenantDetails) -> TenantDetails:
    if details.subtype is not None and details.subtype not in SUBTYPES[kind]:
        allowed = ", ".join(sorted(SUBTYPES[kind]))
        raise InvalidTenant("subtype", f"a {kind} tenant is one of: {allowed}")
    if details.iban is not None and kind is not TenantKind.PROVIDER:
        raise InvalidTenant("iban", "only providers keep a bank account here, for their invoices")
    if details.bic is not None and details.iban is None:
        raise InvalidTenant("bic", "a BIC goes with an IBAN")
    iban, bic = (
        normalise_iban_and_bic(details.iban, details.bic) if details.iban is not None else (None, None)
    )
    return TenantDetails(
        subtype=details.subtype,
        vat_id=normalise_vat_id(details.vat_id, business_id) if details.vat_id is not None else None,
        postal_address=_postal_address(details.postal_address) if details.postal_address else None,
        e_invoice_address=(
            normalise_e_invoice_address(details.e_invoice_address) if details.e_invoice_address else None
        ),
        iban=iban,
        bic=bic,
    )


# --- what happens to a tenant ---


def new_tenant(
    tenant_id: uuid.UUID,
    *,
    name: str,
    kind: TenantKind,
    business_id: str,
    details: TenantDetails | None = None,
) -> Tenant:
    name = valid_text("name", name, error=InvalidTenant)
    business_id = normalise_business_id(business_id)
    return Tenant(
        tenant_id=tenant_id,
        name=name,
        kind=kind,
        business_id=business_id,
        details=_details(kind, business_id, details or TenantDetails()),
    )


def update_tenant(tenant: Tenant, changes: TenantChanges) -> Tenant:
    """The tenant after ``changes``, at the next version; the same tenant when nothing changed."""
    if not tenant.active:
        raise StateConflict("a deactivated tenant cannot be changed")
    given: dict[str, Any] = {
        field: getattr(changes, field)
        for field in changes.__struct_fields__
        if getattr(changes, field) is not UNSET
    }
    name = valid_text("name", given.pop("name"), error=InvalidTenant) if "name" in given else tenant.name
    if "iban" in given and "bic" not in given:
        given["bic"] = None  # a new account: its bank's BIC, not the old one
    details = _details(tenant.kind, tenant.business_id, msgspec.structs.replace(tenant.details, **given))
    if name == tenant.name and details == tenant.details:
        return tenant
    return msgspec.structs.replace(tenant, name=name, details=details, version=tenant.version + 1)


def deactivate_tenant(tenant: Tenant) -> Tenant:
    """The tenant, inactive at the next version; an inactive one stays as it is."""
    if not tenant.active:
        return tenant
    return msgspec.structs.replace(tenant, active=False, version=tenant.version + 1)
