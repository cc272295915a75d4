"""Webhook endpoints: registered, listed, removed, their secrets rotated. One transaction each."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.integrations import store
from services.integrations.adapters.sealing import DecryptionFailed, open_secret, seal_secret
from services.integrations.domain import catalogue
from services.integrations.domain.webhooks import check_url, new_secret
from shared.auth.principal import Principal
from shared.crypto import Keyring
from shared.db.tenant import tenant_transaction
from shared.errors import DomainError, FieldError, NotFound, Unavailable
from shared.http.outbound import resolve_allowed
from shared.ids import new_id

__all__ = [
    "EndpointPolicy",
    "create_endpoint",
    "delete_endpoint",
    "get_endpoint",
    "list_endpoints",
    "rotate_endpoint_secret",
]

# --- webhook endpoints ---


@dataclass(frozen=True)
class EndpointPolicy:
    allow_loopback_http: bool
    rotation_grace: dt.timedelta
    keyring: Keyring | None = None
    """Seals the signing secrets at rest; without one no secret can be issued (503)."""

    def secret_keyring(self) -> Keyring:
        if self.keyring is None:
            raise Unavailable("no webhook secret keys are configured (TILA_INTEGRATIONS_WEBHOOK_SECRET_KEYS)")
        return self.keyring


def _check_event_types(event_types: Sequence[str]) -> list[str]:
    if not event_types:
        raise DomainError(
            "eventTypes must name at least one event type",
            errors=[FieldError("body.eventTypes", "must not be empty")],
        )
    unknown = sorted(set(event_types) - catalogue.PUBLIC_TYPES)
    if unknown:
        raise DomainError(
            "unknown event types",
            errors=[
                FieldError(
                    "body.eventTypes",
                    "at least one, each from the public catalogue (GET /integrations/asyncapi.json)",
                )
            ],
        )
    return sorted(set(event_types))


async def create_endpoint(
    pool: asyncpg.Pool, principal: Principal, policy: EndpointPolicy, *, url: str, event_types: Sequence[str]
) -> tuple[store.Endpoint, str]:
    """The new endpoint and its secret (shown this once)."""
    keyring = policy.secret_keyring()
    target = check_url(url, allow_loopback_http=policy.allow_loopback_http)
    types = _check_event_types(event_types)
    try:
        await resolve_allowed(target, allow_loopback=policy.allow_loopback_http)
    except DomainError as exc:
        raise type(exc)(exc.detail, errors=[FieldError("body.url", exc.detail)]) from None
    secret = new_secret()
    endpoint_id = new_id()
    key_id, sealed = seal_secret(keyring, principal.tenant_id, endpoint_id, "secret", secret)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        row = await store.insert_endpoint(
            conn,
            tenant_id=principal.tenant_id,
            endpoint_id=endpoint_id,
            url=url,
            event_types=types,
            secret_key_id=key_id,
            secret_sealed=sealed,
        )
    return row, secret


async def list_endpoints(pool: asyncpg.Pool, principal: Principal) -> list[store.Endpoint]:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        return await store.list_endpoints(conn, principal.tenant_id)


async def get_endpoint(pool: asyncpg.Pool, principal: Principal, endpoint_id: uuid.UUID) -> store.Endpoint:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        row = await store.fetch_endpoint(conn, principal.tenant_id, endpoint_id)
    if row is None:
        raise NotFound("no such webhook endpoint")
    return row


async def delete_endpoint(pool: asyncpg.Pool, principal: Principal, endpoint_id: uuid.UUID) -> None:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        if not await store.delete_endpoint(conn, principal.tenant_id, endpoint_id):
            raise NotFound("no such webhook endpoint")


async def rotate_endpoint_secret(
    pool: asyncpg.Pool, principal: Principal, policy: EndpointPolicy, endpoint_id: uuid.UUID
) -> tuple[store.Endpoint, str]:
    """A new secret (shown this once); the old one keeps signing beside it for the grace period."""
    keyring = policy.secret_keyring()
    tenant_id = principal.tenant_id
    secret = new_secret()
    expires: dt.datetime | None = dt.datetime.now(dt.UTC) + policy.rotation_grace
    async with tenant_transaction(pool, tenant_id) as conn:
        current = await store.fetch_endpoint(conn, tenant_id, endpoint_id, with_secrets=True, for_update=True)
        if current is None:
            raise NotFound("no such webhook endpoint")
        # The outgoing secret moves to the other column: sealed again for it, under the newest key.
        # One that no longer opens (its key retired) signs nothing, so it gets no grace period.
        key_id, sealed = seal_secret(keyring, tenant_id, endpoint_id, "secret", secret)
        previous_sealed: bytes | None = None
        try:
            sealed_now = current.secrets()
            old = open_secret(keyring, sealed_now.key_id, tenant_id, endpoint_id, "secret", sealed_now.secret)
            _, previous_sealed = seal_secret(keyring, tenant_id, endpoint_id, "previous_secret", old)
        except DecryptionFailed:
            expires = None
        row = await store.rotate_secret(
            conn,
            tenant_id,
            endpoint_id,
            secret_key_id=key_id,
            secret_sealed=sealed,
            previous_sealed=previous_sealed,
            previous_expires_at=expires,
        )
    if row is None:
        raise NotFound("no such webhook endpoint")
    return row, secret
