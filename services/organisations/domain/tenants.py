"""Tenants: who they are and what makes a valid one."""

from __future__ import annotations

import uuid
from enum import StrEnum

import msgspec
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.fi import ytunnus

__all__ = ["InvalidTenant", "Tenant", "TenantKind", "new_tenant", "normalise_business_id"]


class InvalidTenant(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class TenantKind(StrEnum):
    BUYER = "buyer"
    """Welfare area (hyvinvointialue), municipality or company that orders supervision."""
    PROVIDER = "provider"
    """Supervisor company, network or sole trader that delivers it."""


class Tenant(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: uuid.UUID
    name: str
    kind: TenantKind
    business_id: str
    active: bool = True
    version: int = 1


def normalise_business_id(value: str) -> str:
    """A Y-tunnus in its canonical ``1234567-8`` form, or :class:`InvalidTenant`."""
    try:
        return str(ytunnus.format(ytunnus.validate(value)))
    except StdnumValidationError as exc:
        raise InvalidTenant("businessId", f"not a valid Y-tunnus: {exc}") from None


def new_tenant(tenant_id: uuid.UUID, *, name: str, kind: TenantKind, business_id: str) -> Tenant:
    name = name.strip()
    if not name:
        raise InvalidTenant("name", "must not be blank")
    return Tenant(tenant_id=tenant_id, name=name, kind=kind, business_id=normalise_business_id(business_id))
