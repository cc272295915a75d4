"""The tenant directory: every service's own read model of Tila's tenants.

Tenants are a platform concept (who may log in, whose rows are whose), so the read model,
its table and its event handlers live here once rather than in each service.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Request, get
from litestar.di import NamedDependency

from shared.auth.guards import principal_of
from shared.auth.principal import Principal
from shared.contracts.organisations import TenantCreated, TenantDeactivated, TenantUpdated
from shared.db.migrate import MigrationSource
from shared.db.tenant import tenant_transaction
from shared.errors import NotFound
from shared.events.consumer import NotYetApplicable, On, PermanentEventError, on
from shared.events.envelope import Envelope
from shared.events.streams import ConsumerSpec
from shared.events.worker import Subscription

__all__ = [
    "MIGRATIONS",
    "TENANT_HANDLERS",
    "KnownTenant",
    "fetch_known_tenant",
    "known_tenant_route",
    "tenant_subscription",
]

MIGRATIONS = MigrationSource("tenancy", Path(__file__).parent / "migrations")


class KnownTenant(msgspec.Struct, frozen=True):
    tenant_id: uuid.UUID
    name: str
    kind: str
    business_id: str
    active: bool


async def fetch_known_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> KnownTenant | None:
    row = await conn.fetchrow(
        "select tenant_id, name, kind, business_id, active from tenant_directory where tenant_id = $1",
        tenant_id,
    )
    return KnownTenant(**dict(row)) if row else None


async def _on_tenant_created(conn: asyncpg.Connection, envelope: Envelope, event: TenantCreated) -> None:
    if event.tenant_id != envelope.tenant_ids[0]:
        raise PermanentEventError("tenant event for a tenant other than its envelope's")
    await conn.execute(
        """
        insert into tenant_directory (tenant_id, name, kind, business_id, version)
        values ($1, $2, $3, $4, $5)
        on conflict (tenant_id) do update
          set name = excluded.name, kind = excluded.kind, business_id = excluded.business_id,
              version = excluded.version, updated_at = now()
          where tenant_directory.version < excluded.version
        """,
        event.tenant_id,
        event.name,
        event.kind,
        event.business_id,
        envelope.version,
    )


class TenantNotYetKnown(NotYetApplicable):
    """An event about a tenant arrived before the tenant did: retried until it has."""


async def _on_tenant_deactivated(
    conn: asyncpg.Connection, envelope: Envelope, event: TenantDeactivated
) -> None:
    known_version = await conn.fetchval(
        "select version from tenant_directory where tenant_id = $1 for update", event.tenant_id
    )
    if known_version is None:
        raise TenantNotYetKnown(str(event.tenant_id))  # the consumer naks it with backoff
    if known_version < envelope.version:
        await conn.execute(
            "update tenant_directory set active = false, version = $2, updated_at = now()"
            " where tenant_id = $1",
            event.tenant_id,
            envelope.version,
        )


async def _on_tenant_updated(conn: asyncpg.Connection, envelope: Envelope, event: TenantUpdated) -> None:
    # Only the name is kept here; kind and business id never change, and a deactivated tenant
    # is never updated, so applying the newest version is all there is to ordering.
    if event.tenant_id != envelope.tenant_ids[0]:
        raise PermanentEventError("tenant event for a tenant other than its envelope's")
    known_version = await conn.fetchval(
        "select version from tenant_directory where tenant_id = $1 for update", event.tenant_id
    )
    if known_version is None:
        raise TenantNotYetKnown(str(event.tenant_id))
    if known_version < envelope.version:
        await conn.execute(
            "update tenant_directory set name = $2, version = $3, updated_at = now() where tenant_id = $1",
            event.tenant_id,
            event.name,
            envelope.version,
        )


TENANT_HANDLERS: tuple[On[Any], ...] = (
    on(TenantCreated, _on_tenant_created),
    on(TenantUpdated, _on_tenant_updated),
    on(TenantDeactivated, _on_tenant_deactivated),
)
"""What keeps the tenant directory current; a service that reacts to tenant events itself adds
its own ``on(...)`` after these in the same subscription."""


def tenant_subscription(consumer: str) -> Subscription:
    """The subscription a service adds to its worker to keep its tenant directory current."""
    return Subscription(
        spec=ConsumerSpec(
            consumer=consumer, producer="organisations", filter_subjects=("organisations.tenant.>",)
        ),
        handlers=TENANT_HANDLERS,
    )


class KnownTenantOut(msgspec.Struct, frozen=True, rename="camel"):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The tenant's id")]
    name: Annotated[str, msgspec.Meta(description="The tenant's name as organisations announced it")]
    kind: Annotated[
        str, msgspec.Meta(description="buyer (a welfare area) or provider (a supervisor network)")
    ]
    business_id: Annotated[str, msgspec.Meta(description="The tenant's Finnish business id (Y-tunnus)")]
    active: Annotated[
        bool,
        msgspec.Meta(
            description=(
                "Whether the tenant is active; an inactive tenant can neither order nor be ordered from"
            )
        ),
    ]


def known_tenant_route(service: str) -> Any:
    """``GET /<service>/tenants/me``: the caller's tenant as this service's read model knows it."""

    @get(
        "/tenants/me",
        operation_id=f"{service}_getKnownTenant",
        tags=["tenants"],
        summary="The caller's tenant, as this service knows it from organisations events",
    )
    async def known_tenant(
        pool: NamedDependency[asyncpg.Pool], request: Request[Principal, Any, Any]
    ) -> KnownTenantOut:
        principal = principal_of(request)
        async with tenant_transaction(pool, principal.tenant_id) as conn:
            tenant = await fetch_known_tenant(conn, principal.tenant_id)
        if tenant is None:
            raise NotFound("this service has not heard of the tenant (yet)")
        return KnownTenantOut(
            id=tenant.tenant_id,
            name=tenant.name,
            kind=tenant.kind,
            business_id=tenant.business_id,
            active=tenant.active,
        )

    return known_tenant
