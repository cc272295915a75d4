"""The consumer that turns internal events into the tenant's public feed and webhook deliveries,
and the feed's reads. One transaction each, the only place that writes them."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from services.integrations import store
from services.integrations.domain import catalogue
from services.integrations.handlers.settings import tenant_active
from shared.auth.principal import Principal
from shared.contracts import Event
from shared.contracts import organisations as org_events
from shared.contracts import sessions as session_events
from shared.db.tenant import set_tenant, tenant_transaction
from shared.errors import DomainError, FieldError
from shared.events.envelope import Envelope
from shared.http.pagination import decode_cursor, encode_cursor
from shared.ids import new_id

__all__ = [
    "read_feed",
    "record_in_feed",
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
    return [r.body for r in rows], encode_cursor(rows[-1].position) if more else None
