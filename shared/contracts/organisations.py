"""Events published by the organisations service."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from shared.contracts import Event, register

__all__ = ["TenantCreated", "TenantDeactivated"]

TenantKind = Literal["buyer", "provider"]


@register
class TenantCreated(Event, frozen=True, kw_only=True):
    """A buyer (welfare area, municipality, company) or a provider joined Tila."""

    event_type: ClassVar[str] = "organisations.tenant.created.v1"
    aggregate: ClassVar[str] = "tenant"

    tenant_id: uuid.UUID
    name: str
    kind: TenantKind
    business_id: str


@register
class TenantDeactivated(Event, frozen=True, kw_only=True):
    """A tenant was deactivated; its data stays, its users can no longer act."""

    event_type: ClassVar[str] = "organisations.tenant.deactivated.v1"
    aggregate: ClassVar[str] = "tenant"

    tenant_id: uuid.UUID
