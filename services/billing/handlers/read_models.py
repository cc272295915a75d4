"""Billing's read models follow organisations and orders events; billable items follow sessions
events (one consumer transaction each). The buyer's invoicing requirements are set here too."""

from __future__ import annotations

from typing import Literal

import asyncpg
import msgspec

from services.billing import store
from services.billing.domain.documents import xml_illegal, xml_safe
from services.billing.domain.items import SessionOutcome, billable_item
from shared.auth.principal import BUYER_ADMIN, Principal
from shared.contracts.orders import OrderFacts
from shared.contracts.organisations import CostCentreFacts, TenantFacts
from shared.contracts.sessions import BillableFacts, SessionCancelled, SessionHeld, SessionNoShow
from shared.db.tenant import tenant_transaction
from shared.errors import Forbidden
from shared.events.consumer import PermanentEventError
from shared.events.envelope import Envelope
from shared.ids import new_id

__all__ = [
    "apply_cost_centre",
    "apply_order",
    "apply_session",
    "apply_tenant_facts",
    "set_invoicing_requirements",
]


# --- read models (consumers) ---


# Text from other services lands in XML documents (names, addresses, cost centre codes, agreement
# numbers). XML 1.0 cannot carry most C0 control characters, so the read models store such text
# with each of those characters replaced by U+FFFD: the event is applied (never dead-lettered —
# the tenant's other facts matter), the replacement is visible on the documents for a person to
# notice and correct at the source, and a document is always writable. Rows stored before this
# (legacy) are refused clearly instead: issuing names the field (422), and so does a document
# request for an invoice issued with such text (see ``open_document``).


async def apply_tenant_facts(conn: asyncpg.Connection, envelope: Envelope, event: TenantFacts) -> None:
    if event.tenant_id != envelope.tenant_ids[0]:
        raise PermanentEventError("tenant event for a tenant other than its envelope's")
    await store.upsert_party(conn, _xml_safe_facts(event), envelope.version)


def _xml_safe_facts(event: TenantFacts) -> TenantFacts:
    changes: dict[str, object] = {
        name: xml_safe(value)
        for name in ("name", "business_id", "vat_id", "iban", "bic")
        if isinstance(value := getattr(event, name), str) and xml_illegal(value)
    }
    if (address := event.postal_address) is not None:
        changes["postal_address"] = msgspec.structs.replace(
            address,
            street=xml_safe(address.street),
            postcode=xml_safe(address.postcode),
            city=xml_safe(address.city),
            country=xml_safe(address.country),
        )
    if (e_invoice := event.e_invoice_address) is not None:
        changes["e_invoice_address"] = msgspec.structs.replace(
            e_invoice,
            address=xml_safe(e_invoice.address),
            operator_id=xml_safe(e_invoice.operator_id) if e_invoice.operator_id else None,
        )
    return msgspec.structs.replace(event, **changes)


async def apply_cost_centre(conn: asyncpg.Connection, envelope: Envelope, event: CostCentreFacts) -> None:
    tenant_id, version = envelope.tenant_ids[0], envelope.version
    await store.upsert_cost_centre(
        conn, tenant_id, event.cost_centre_id, xml_safe(event.code), xml_safe(event.name), version
    )


async def apply_order(conn: asyncpg.Connection, envelope: Envelope, event: OrderFacts) -> None:
    """Billing knows an order once its provider is a party to it (from the offer on)."""
    tenant_ids, version = envelope.tenant_ids, envelope.version
    if event.buyer_id != tenant_ids[0]:
        raise PermanentEventError("order event for a buyer other than its envelope's")
    if event.provider_id not in tenant_ids:
        return  # not yet offered: the provider is no party yet
    await store.upsert_order(
        conn,
        order_id=event.order_id,
        provider_id=event.provider_id,
        buyer_id=event.buyer_id,
        agreement_id=event.agreement_id,
        agreement_number=xml_safe(event.agreement_number) if event.agreement_number else None,
        cost_centre_id=event.cost_centre_id,
        payment_terms_days=event.payment_terms_days,
        status=event.status,
        version=version,
        order_number=event.order_number,
    )


def _outcome(event: BillableFacts) -> SessionOutcome:
    terms = event.cancellation_terms
    category = event.category if isinstance(event, SessionCancelled) else None
    attended = sum(1 for a in event.attendance if a.attended) if isinstance(event, SessionHeld) else 0
    kind: Literal["held", "no_show", "cancelled"]
    if isinstance(event, SessionHeld):
        kind = "held"
    elif isinstance(event, SessionNoShow):
        kind = "no_show"
    else:
        kind = "cancelled"
    return SessionOutcome(
        session_id=event.session_id,
        order_id=event.order_id,
        agreement_id=event.agreement_id,
        cost_centre_id=event.cost_centre_id,
        buyer_id=event.buyer_id,
        provider_id=event.provider_id,
        form=event.form,
        mode=event.mode,
        starts_at=event.starts_at,
        duration_minutes=event.duration_minutes,
        outcome=kind,
        category=category,
        charge_exempt=event.charge_exempt if isinstance(event, SessionCancelled) else False,
        unit=event.price.unit,
        net_price_cents=event.price.net_price_cents,
        late_cancellation_charge_percent=terms.late_cancellation_charge_percent,
        no_show_charge_percent=terms.no_show_charge_percent,
        participant_count=event.participant_count,
        attended_count=attended,
    )


async def apply_session(conn: asyncpg.Connection, envelope: Envelope, event: BillableFacts) -> None:
    """Bill a held, no-show or cancelled session once (a redelivered one makes no second item)."""
    if set(envelope.tenant_ids) != {event.buyer_id, event.provider_id}:
        raise PermanentEventError("session event whose tenants are not its buyer and provider")
    try:
        item = billable_item(_outcome(event))
    except ValueError as exc:
        raise PermanentEventError(str(exc)) from exc
    if item is not None:
        await store.insert_billable_item(conn, new_id(), item)


# --- the buyer's invoicing requirements ---


async def set_invoicing_requirements(pool: asyncpg.Pool, principal: Principal, *, per_order: bool) -> int:
    if not principal.has_role(BUYER_ADMIN):
        raise Forbidden("a buyer admin sets the buyer's invoicing requirements")
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        return await store.upsert_buyer_invoicing(conn, principal.tenant_id, per_order=per_order)
