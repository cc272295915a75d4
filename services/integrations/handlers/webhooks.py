"""Use cases of the integrations service: one transaction each, the only place that writes."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import msgspec

from services.integrations import store
from services.integrations.adapters.sealing import DecryptionFailed, open_secret, seal_secret
from services.integrations.domain import catalogue
from services.integrations.domain.webhooks import check_url, new_secret
from shared.auth.principal import Principal
from shared.contracts import Event
from shared.contracts import organisations as org_events
from shared.contracts import sessions as session_events
from shared.crypto import Keyring
from shared.db.tenant import set_tenant, tenant_transaction
from shared.errors import Conflict, DomainError, FieldError, Forbidden, NotFound, Unavailable
from shared.events.envelope import Envelope
from shared.http.outbound import resolve_allowed
from shared.http.pagination import decode_cursor, encode_cursor
from shared.ids import new_id
from shared.tenancy import fetch_known_tenant

__all__ = [
    "EndpointPolicy",
    "check_tenant_active",
    "create_endpoint",
    "delete_endpoint",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "read_feed",
    "read_reason_code",
    "record_in_feed",
    "replay_delivery",
    "rotate_endpoint_secret",
    "set_reason_code",
]

_MAX_POSITION = 2**63 - 1
_PERSON_EVENTS = (org_events.PersonCreated.event_type, org_events.PersonUpdated.event_type)
_COST_CENTRE_EVENTS = (org_events.CostCentreCreated.event_type, org_events.CostCentreUpdated.event_type)
_encoder = msgspec.json.Encoder()


# --- the consumer ---


async def record_in_feed(conn: asyncpg.Connection, envelope: Envelope, event: Event) -> None:
    """Consumer use case, inside the consumer's transaction: keep the read models, and add each
    public event the internal one becomes to its tenant's feed and webhook deliveries."""
    if envelope.type in _PERSON_EVENTS:
        person = event
        assert isinstance(person, org_events.PersonFacts)
        for tenant_id in envelope.tenant_ids:
            await set_tenant(conn, tenant_id)
            await store.upsert_person(
                conn,
                tenant_id=tenant_id,
                person_id=person.person_id,
                hr_employee_number=person.hr_employee_number,
                active=person.active,
                version=envelope.version,
            )
        return
    if envelope.type == org_events.PersonDeactivated.event_type:
        gone = event
        assert isinstance(gone, org_events.PersonDeactivated)
        for tenant_id in envelope.tenant_ids:
            await set_tenant(conn, tenant_id)
            await store.set_person_inactive(
                conn, tenant_id=tenant_id, person_id=gone.person_id, version=envelope.version
            )
        return
    if envelope.type in _COST_CENTRE_EVENTS:
        centre = event
        assert isinstance(centre, org_events.CostCentreFacts)
        for tenant_id in envelope.tenant_ids:
            await set_tenant(conn, tenant_id)
            await store.upsert_cost_centre(
                conn,
                tenant_id=tenant_id,
                cost_centre_id=centre.cost_centre_id,
                code=centre.code,
                version=envelope.version,
            )
        return
    if envelope.type not in catalogue.INTERNAL_TYPES:
        return  # not public: it never leaves Tila
    # An event shared by a buyer and a provider appears in both feeds, each under its own RLS scope.
    for tenant_id in envelope.tenant_ids:
        await set_tenant(conn, tenant_id)
        lookups = await _lookups(conn, tenant_id, event)
        for public in catalogue.public_events(
            internal_type=envelope.type,
            event=event,
            event_id=envelope.id,
            subject=envelope.subject,
            occurred_at=envelope.occurred_at,
            tenant_id=tenant_id,
            lookups=lookups,
        ):
            await _publish(conn, tenant_id, public)


async def _lookups(conn: asyncpg.Connection, tenant_id: uuid.UUID, event: object) -> catalogue.Lookups:
    people: list[uuid.UUID] = []
    if isinstance(event, session_events.SessionHeld):
        people = [a.person_id for a in event.attendance]
    centre = getattr(event, "cost_centre_id", None)
    return catalogue.Lookups(
        employee_numbers=await store.employee_numbers(conn, tenant_id, people) if people else {},
        cost_centre_codes=(
            await store.cost_centre_codes(conn, tenant_id, [centre]) if isinstance(centre, uuid.UUID) else {}
        ),
        reason_code=await store.reason_code(conn, tenant_id) or catalogue.DEFAULT_REASON_CODE,
    )


async def _publish(conn: asyncpg.Connection, tenant_id: uuid.UUID, public: catalogue.PublicEvent) -> None:
    body = _encoder.encode(public).decode()
    position = await store.insert_feed_entry(
        conn,
        tenant_id=tenant_id,
        event_id=public.id,
        type_=public.type,
        subject=public.subject,
        occurred_at=public.time,
        body=body,
    )
    if position is None:
        return
    if not await tenant_active(conn, tenant_id):
        return  # a deactivated tenant's webhooks get nothing (see the delivery loop)
    for endpoint_id in await store.subscribed_endpoints(conn, tenant_id, public.type):
        inserted = await store.insert_delivery(
            conn,
            tenant_id=tenant_id,
            delivery_id=new_id(),
            endpoint_id=endpoint_id,
            event_id=public.id,
            event_type=public.type,
            event_time=public.time,
            position=position,
            body=body,
        )
        if inserted:
            # Events of other streams arrive in their own time: this one may go ahead of some
            # already tried, which now wait for it without using up their retry windows.
            await store.restart_windows_behind(
                conn, tenant_id, endpoint_id, event_time=public.time, position=position
            )
        await store.refresh_schedule(conn, tenant_id, endpoint_id)


# --- tenants ---


async def tenant_active(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> bool:
    """False once organisations announced the tenant's deactivation (final: the contracts have
    no reactivation). A tenant this service has not heard of yet counts as active."""
    known = await fetch_known_tenant(conn, tenant_id)
    return known is None or known.active


async def check_tenant_active(pool: asyncpg.Pool, principal: Principal) -> None:
    """Every route of a deactivated tenant answers 403, also to its tokens issued before."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        active = await tenant_active(conn, principal.tenant_id)
    if not active:
        raise Forbidden("the tenant is deactivated")


# --- the feed ---


async def read_feed(
    pool: asyncpg.Pool, principal: Principal, *, cursor: str | None, limit: int
) -> tuple[list[str], str | None]:
    """A page of the caller's public events (their JSON bodies) and the cursor after it."""
    after = decode_cursor(cursor, int)[0] if cursor else 0
    if not 0 <= after <= _MAX_POSITION:
        raise DomainError(
            "malformed cursor", errors=[FieldError("query.cursor", "not a cursor from this API")]
        )
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        rows = await store.fetch_feed_page(conn, principal.tenant_id, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [r["body"] for r in rows], encode_cursor(rows[-1]["position"]) if more else None


# --- settings ---

_REASON_CODE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")


async def read_reason_code(pool: asyncpg.Pool, principal: Principal) -> str:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        return await store.reason_code(conn, principal.tenant_id) or catalogue.DEFAULT_REASON_CODE


async def set_reason_code(pool: asyncpg.Pool, principal: Principal, code: str) -> str:
    if not _REASON_CODE.match(code):
        raise DomainError(
            "invalid reason code",
            errors=[FieldError("body.workingTimeReasonCode", "1–32 letters, digits, - or _")],
        )
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        await store.set_reason_code(conn, principal.tenant_id, code)
    return code


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
) -> tuple[asyncpg.Record, str]:
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


async def list_endpoints(pool: asyncpg.Pool, principal: Principal) -> list[asyncpg.Record]:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        return await store.list_endpoints(conn, principal.tenant_id)


async def get_endpoint(pool: asyncpg.Pool, principal: Principal, endpoint_id: uuid.UUID) -> asyncpg.Record:
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
) -> tuple[asyncpg.Record, str]:
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
            old = open_secret(
                keyring, current["secret_key_id"], tenant_id, endpoint_id, "secret", current["secret_sealed"]
            )
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


# --- deliveries ---


async def list_deliveries(
    pool: asyncpg.Pool,
    principal: Principal,
    endpoint_id: uuid.UUID,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[asyncpg.Record], str | None]:
    after = None
    if cursor:
        at, delivery = decode_cursor(cursor, dt.datetime, uuid.UUID)
        after = (at, delivery)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        if await store.fetch_endpoint(conn, principal.tenant_id, endpoint_id) is None:
            raise NotFound("no such webhook endpoint")
        rows = await store.list_deliveries(
            conn, principal.tenant_id, endpoint_id, status=status, after=after, limit=limit + 1
        )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    return rows, encode_cursor(last["created_at"], last["delivery_id"]) if more and last else None


async def replay_delivery(
    pool: asyncpg.Pool, principal: Principal, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> asyncpg.Record:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        row = await store.replay_delivery(conn, principal.tenant_id, endpoint_id, delivery_id)
        if row is None:
            if await store.fetch_delivery(conn, principal.tenant_id, endpoint_id, delivery_id) is None:
                raise NotFound("no such delivery")
            raise Conflict(
                "only a dead-lettered delivery can be replayed",
                errors=[FieldError("path.deliveryId", "the delivery is not dead-lettered")],
            )
        # Back in its event-time place: the ones behind it wait for it again.
        await store.restart_windows_behind(
            conn, principal.tenant_id, endpoint_id, event_time=row["event_time"], position=row["position"]
        )
        await store.refresh_schedule(conn, principal.tenant_id, endpoint_id)
    return row
