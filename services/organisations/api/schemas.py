"""Request and response bodies of the organisations API."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from services.organisations.domain.tenants import TenantKind

__all__ = ["TenantCreate", "TenantOut"]


class TenantCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="Legal or trade name")]
    kind: Annotated[TenantKind, msgspec.Meta(description="buyer (tilaaja) or provider (palveluntuottaja)")]
    business_id: Annotated[
        str,
        msgspec.Meta(
            min_length=8, max_length=10, description="Y-tunnus, e.g. 2077474-0", examples=["2077474-0"]
        ),
    ]


class TenantOut(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    name: str
    kind: TenantKind
    business_id: str
    active: bool
