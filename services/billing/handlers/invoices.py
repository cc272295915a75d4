"""The billing service's use cases: the only code that writes its tables.

Read models follow organisations and orders events; billable items follow sessions events; the
invoice run, issuing and crediting act for a provider (the seller) inside its own tenant scope
(docs/architecture.md §4: a run that crosses tenants runs per tenant). Each use case is one transaction
and its events go to the outbox in it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Literal, Protocol

import asyncpg
import msgspec
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError
from stdnum.fi import alv, ytunnus

from services.billing import SERVICE, store
from services.billing.domain.credits import (
    CreditLine,
    CreditRefused,
    CreditRequestLine,
    InvoicedLine,
    credit_line,
)
from services.billing.domain.documents import (
    DocumentHeader,
    DocumentLine,
    Party,
    UblWriter,
    VatBreakdown,
    header_problems,
    party_problems,
    safe_party,
    vat_breakdown,
    xml_illegal,
    xml_safe,
)
from services.billing.domain.finvoice import FinvoiceWriter, finvoice_problems
from services.billing.domain.items import HELSINKI, SessionOutcome, billable_item
from services.billing.domain.references import invoice_number, reference_for_invoice, rf_reference
from shared import approvers
from shared.auth.principal import APPROVER, BUYER_ADMIN, PROVIDER_ADMIN, Principal
from shared.contracts.billing import CreditNoteIssued, InvoiceIssued
from shared.contracts.orders import OrderFacts
from shared.contracts.organisations import CostCentreFacts, TenantFacts
from shared.contracts.sessions import BillableFacts, SessionCancelled, SessionHeld, SessionNoShow
from shared.db.tenant import tenant_transaction
from shared.errors import Conflict, FieldError, Forbidden, InvariantViolated, NotFound, check_version
from shared.events import add_to_outbox, envelope_for
from shared.events.consumer import PermanentEventError
from shared.events.envelope import Envelope
from shared.http.idempotency import idempotent_request, remember, replay
from shared.ids import new_id

__all__ = [
    "DEFAULT_PAYMENT_TERMS_DAYS",
    "DocumentFormat",
    "apply_cost_centre",
    "apply_order",
    "apply_session",
    "apply_tenant_facts",
    "credit_invoice",
    "document_chunks",
    "get_invoice",
    "get_specification",
    "issue_invoice",
    "list_invoices",
    "open_document",
    "run_invoices",
    "set_invoicing_requirements",
]

DEFAULT_PAYMENT_TERMS_DAYS = 21
DocumentFormat = Literal["ubl", "finvoice"]
_CHUNK = 64 * 1024
_FORMAT_NAMES = {"ubl": "a Peppol BIS 3.0 UBL document", "finvoice": "Finvoice 3.0"}


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


# --- who sees which invoice ---


class _Viewer(msgspec.Struct, frozen=True):
    seller_id: uuid.UUID | None = None
    buyer_id: uuid.UUID | None = None
    cost_centres: list[uuid.UUID] | None = None


def _person(principal: Principal) -> uuid.UUID:
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        raise Forbidden("only a person may act on invoices") from None


async def _viewer(conn: asyncpg.Connection, principal: Principal) -> _Viewer:
    tenant = principal.tenant_id
    if principal.has_role(PROVIDER_ADMIN):
        return _Viewer(seller_id=tenant)
    if principal.has_role(BUYER_ADMIN):
        return _Viewer(buyer_id=tenant)
    if principal.has_role(APPROVER):
        return _Viewer(
            buyer_id=tenant,
            cost_centres=sorted(await approvers.assigned_cost_centres(conn, tenant, _person(principal))),
        )
    raise Forbidden("invoices are for provider admins, buyer admins and the cost centre's approvers")


def _sees(viewer: _Viewer, row: asyncpg.Record) -> bool:
    if viewer.seller_id is not None:
        return bool(row["tenant_id"] == viewer.seller_id)
    if row["buyer_tenant_id"] != viewer.buyer_id or row["status"] != "issued":
        return False
    return viewer.cost_centres is None or row["cost_centre_id"] in viewer.cost_centres


async def _visible_invoice(
    conn: asyncpg.Connection, principal: Principal, invoice_id: uuid.UUID
) -> asyncpg.Record:
    viewer = await _viewer(conn, principal)
    row = await store.fetch_invoice(conn, invoice_id)
    if row is None or not _sees(viewer, row):
        raise NotFound("no such invoice")
    return row


async def list_invoices(
    pool: asyncpg.Pool, principal: Principal, *, after: uuid.UUID | None, limit: int
) -> list[asyncpg.Record]:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        viewer = await _viewer(conn, principal)
        return await store.list_invoices(
            conn,
            seller_id=viewer.seller_id,
            buyer_id=viewer.buyer_id,
            cost_centres=viewer.cost_centres,
            after=after,
            limit=limit,
        )


async def get_invoice(pool: asyncpg.Pool, principal: Principal, invoice_id: uuid.UUID) -> asyncpg.Record:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        return await _visible_invoice(conn, principal, invoice_id)


async def get_specification(
    pool: asyncpg.Pool, principal: Principal, invoice_id: uuid.UUID
) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    """The sessions an invoice charges (a credit note: credits) with their attendance counts, never
    who attended.

    What the employer may infer from billing: which sessions it pays for and why — held, no-show,
    or a late cancellation at the agreement's percent — since a buyer must be able to check every
    invoiced row against its orders. Nothing about a session that is not charged: only billed items
    are listed, and billing keeps no trace of an uncharged session (no item, no row, nothing in
    its events). So a late cancellation the terms exempt (illness) reads, in everything billing
    answers or emits, exactly as an on-time cancellation or one by the supervisor: absent.
    (Billing never hears the reason category; ``charge_exempt`` decides the charge and is dropped.)
    What another service shows the buyer about a cancellation's category is that service's to keep
    from singling out an exempt one."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        row = await _visible_invoice(conn, principal, invoice_id)
        return row, await store.specification(conn, invoice_id, credit_note=row["kind"] == "credit_note")


# --- the buyer's invoicing requirements ---


async def set_invoicing_requirements(pool: asyncpg.Pool, principal: Principal, *, per_order: bool) -> int:
    if not principal.has_role(BUYER_ADMIN):
        raise Forbidden("a buyer admin sets the buyer's invoicing requirements")
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        return await store.upsert_buyer_invoicing(conn, principal.tenant_id, per_order=per_order)


# --- the invoice run ---


def _seller(principal: Principal) -> uuid.UUID:
    if not principal.has_role(PROVIDER_ADMIN):
        raise Forbidden("a provider admin runs, issues and credits the provider's invoices")
    return principal.tenant_id


async def run_invoices(
    pool: asyncpg.Pool, principal: Principal, month: dt.date | None
) -> list[asyncpg.Record]:
    """Gather the provider's unbilled items into drafts, set-based; answer the drafts."""
    provider = _seller(principal)
    if month is not None and month.day != 1:
        raise InvariantViolated(
            "a billing month starts on its first day", errors=[FieldError("body.month", "use YYYY-MM-01")]
        )
    async with tenant_transaction(pool, provider) as conn:
        await store.lock_provider_run(conn, provider)
        await store.prefer_hash_joins(conn)
        await store.create_drafts(conn, provider, month)
        await store.assign_unbilled_items(conn, provider, month)
        await store.recompute_drafts(conn, provider)
        return await store.list_drafts(conn, provider, month)


def _today() -> dt.date:
    return dt.datetime.now(HELSINKI).date()


def _checked_seller(seller: Party | None) -> Party:
    if seller is None:
        raise Conflict("billing has not heard the seller's invoicing facts yet")
    errors: list[FieldError] = []
    try:
        ytunnus.validate(seller.business_id)
    except ValidationError:
        errors.append(FieldError("seller.businessId", "not a valid Y-tunnus"))
    try:
        alv.validate(seller.vat_id or "")
    except ValidationError:
        errors.append(FieldError("seller.vatId", "not a valid Finnish VAT id"))
    try:
        IBAN(seller.iban or "")
    except (SchwiftyException, ValueError):
        errors.append(FieldError("seller.iban", "not a valid IBAN"))
    if not seller.ovt:
        errors.append(FieldError("seller.eInvoiceAddress", "missing"))
    errors += [FieldError(field, why) for field, why in party_problems("seller", seller)]
    if errors:
        raise InvariantViolated("the seller's invoicing facts are incomplete", errors=errors)
    return seller


def _checked_buyer(buyer: Party | None) -> Party:
    if buyer is None:
        raise Conflict("billing has not heard the buyer's invoicing facts yet")
    if not buyer.ovt:
        raise InvariantViolated(
            "the buyer has no e-invoice address", errors=[FieldError("buyer.eInvoiceAddress", "missing")]
        )
    # Facts stored before the read models sanitised their text (see ``apply_tenant_facts``): an
    # invoice is never issued with text its documents could not carry.
    if problems := party_problems("buyer", buyer):
        raise InvariantViolated(
            "the buyer's invoicing facts hold text no e-invoice can carry",
            errors=[FieldError(field, why) for field, why in problems],
        )
    return buyer


def _breakdown(value: object) -> list[VatBreakdown]:
    items = msgspec.convert(value, list[dict[str, str | int]], strict=False)
    return [
        VatBreakdown(
            rate=Decimal(str(b["rate"])), taxable_cents=int(b["taxable_cents"]), tax_cents=int(b["tax_cents"])
        )
        for b in items
    ]


def _facts(row: asyncpg.Record, order_ids: list[uuid.UUID], sign: int) -> dict[str, object]:
    return {
        "invoice_id": row["invoice_id"],
        "provider_id": row["tenant_id"],
        "buyer_id": row["buyer_tenant_id"],
        "number": row["number"],
        "issue_date": row["issue_date"],
        "due_date": row["due_date"],
        "net_cents": sign * row["net_cents"],
        "vat_cents": sign * row["vat_cents"],
        "gross_cents": sign * row["gross_cents"],
        "payment_reference": row["payment_reference"],
        "agreement_id": row["agreement_id"],
        "cost_centre_id": row["cost_centre_id"],
        "order_ids": sorted(order_ids),
        "billing_month": row["billing_month"].strftime("%Y-%m"),
    }


async def issue_invoice(
    pool: asyncpg.Pool, principal: Principal, invoice_id: uuid.UUID, *, expected_version: int | None
) -> asyncpg.Record:
    """Number, date and freeze a draft; the number is taken from the seller's locked counter row,
    so it is gapless whatever runs or issues happen at the same time."""
    provider = _seller(principal)
    async with tenant_transaction(pool, provider) as conn:
        row = await store.fetch_invoice(conn, invoice_id, for_update=True)
        if row is None or row["tenant_id"] != provider:
            raise NotFound("no such invoice")
        check_version(row["version"], expected_version, what="invoice")
        if row["status"] != "draft":
            raise Conflict("the invoice is already issued")
        if row["item_count"] == 0:
            raise Conflict("the draft has no items")
        seller = _checked_seller(await store.fetch_party(conn, provider))
        buyer = _checked_buyer(await store.fetch_party(conn, row["buyer_tenant_id"]))
        facts = await store.invoice_facts(conn, invoice_id)
        terms = facts["payment_terms_days"] or DEFAULT_PAYMENT_TERMS_DAYS
        order_ids: list[uuid.UUID] = list(facts["order_ids"])
        sequence = await store.next_sequence(conn, provider)
        today = _today()
        reference = reference_for_invoice(sequence)
        cost_centre = facts["cost_centre_code"] or str(row["cost_centre_id"])
        single_order = row["order_id"] or (order_ids[0] if len(order_ids) == 1 else None)
        header = DocumentHeader(
            kind="invoice",
            invoice_id=invoice_id,
            number=invoice_number(sequence),
            issue_date=today,
            due_date=today + dt.timedelta(days=terms),
            payment_terms_days=terms,
            buyer_reference=cost_centre,
            accounting_cost=cost_centre,
            contract_reference=facts["agreement_number"],
            # The buyer's order number people know; the id for orders heard before numbers existed.
            order_reference=(facts["order_number"] or str(single_order)) if single_order else None,
            period_start=facts["period_start"],
            period_end=facts["period_end"],
            seller=seller,
            buyer=buyer,
            payment_reference=reference,
            rf_reference=rf_reference(reference),
            breakdown=_breakdown(row["breakdown"]),
            net_cents=row["net_cents"],
            vat_cents=row["vat_cents"],
            gross_cents=row["gross_cents"],
        )
        if problems := header_problems(header):  # e.g. a cost centre code stored before sanitising
            raise InvariantViolated(
                "the invoice would hold text no e-invoice can carry",
                errors=[FieldError(field, why) for field, why in problems],
            )
        issued = await store.issue(
            conn,
            invoice_id,
            sequence=sequence,
            number=header.number,
            issue_date=header.issue_date,
            due_date=header.due_date,
            payment_terms_days=terms,
            payment_reference=header.payment_reference,
            rf_reference=header.rf_reference,
            header=msgspec.to_builtins(header),
        )
        event = InvoiceIssued(**_facts(issued, order_ids, 1))  # type: ignore[arg-type]
        await add_to_outbox(
            conn,
            SERVICE,
            envelope_for(
                event,
                source=SERVICE,
                subject=invoice_id,
                version=issued["version"],
                tenant_ids=[provider, issued["buyer_tenant_id"]],
            ),
        )
        return issued


def _credits(invoiced: list[InvoicedLine], lines: list[CreditRequestLine] | None) -> list[CreditLine]:
    """The credit lines a request makes of an invoice's lines; every refusal names its field."""
    if lines is None:
        pending = [line for line in invoiced if not line.credited]
        if not pending:
            raise Conflict("the invoice is already credited")
        return [credit_line(line, None, "body") for line in pending]
    if not lines:
        raise InvariantViolated(
            "a credit note credits at least one line",
            errors=[FieldError("body.lines", "name a line, or leave lines out to credit them all")],
        )
    by_session = {line.session_id: line for line in invoiced}
    credits: list[CreditLine] = []
    errors: list[FieldError] = []
    already: list[FieldError] = []
    seen: set[uuid.UUID] = set()
    for index, request in enumerate(lines):
        field = f"body.lines[{index}]"
        line = by_session.get(request.session_id)
        if line is None:
            errors.append(FieldError(f"{field}.sessionId", "not a line of this invoice"))
        elif request.session_id in seen:
            errors.append(FieldError(f"{field}.sessionId", "named twice"))
        elif line.credited:
            already.append(FieldError(f"{field}.sessionId", "this line is already credited"))
        else:
            try:
                credits.append(credit_line(line, request, field))
            except CreditRefused as refused:
                errors.append(FieldError(refused.field, refused.message))
        seen.add(request.session_id)
    if errors:
        raise InvariantViolated("the credit note cannot credit these lines", errors=errors)
    if already:
        raise Conflict("a line is credited at most once", errors=already)
    return credits


async def credit_invoice(
    pool: asyncpg.Pool,
    principal: Principal,
    invoice_id: uuid.UUID,
    lines: list[CreditRequestLine] | None = None,
    *,
    rebill: bool = True,
    idempotency_key: str | None = None,
    body_hash: str = "",
) -> asyncpg.Record:
    """A credit note for lines of an issued invoice (all its uncredited lines when ``lines`` is
    None), numbered from the same counter; see ``domain.credits`` for what may be credited. Lines
    credited in whole return to billable (unless ``rebill`` is false), so the next run bills them on
    a new invoice. A retry with the same Idempotency-Key and body answers the same credit note."""
    provider = _seller(principal)
    request = idempotent_request(principal, idempotency_key, body_hash)
    async with tenant_transaction(pool, provider) as conn:
        # The row lock serialises credits of one invoice: a line is checked and credited at once.
        original = await store.fetch_invoice(conn, invoice_id, for_update=True)
        if original is None or original["tenant_id"] != provider:
            raise NotFound("no such invoice")
        # After the lock: a concurrent retry waits here, then finds the first one's credit note.
        if (made_id := await replay(conn, request, uuid.UUID)) is not None:
            made = await store.fetch_invoice(conn, made_id)
            assert made is not None
            return made
        if original["kind"] != "invoice" or original["status"] != "issued":
            raise Conflict("only an issued invoice can be credited")
        credits = _credits(await store.invoiced_lines(conn, invoice_id), lines)
        taxable: dict[Decimal, int] = {}
        for credit in credits:
            taxable[credit.vat_rate] = taxable.get(credit.vat_rate, 0) + credit.net_cents
        breakdown = vat_breakdown(taxable)
        net = sum(b.taxable_cents for b in breakdown)
        vat = sum(b.tax_cents for b in breakdown)
        was = msgspec.convert(original["header"], DocumentHeader, strict=False)
        sequence = await store.next_sequence(conn, provider)
        today = _today()
        reference = reference_for_invoice(sequence)
        credit_id = new_id()
        header = msgspec.structs.replace(
            was,
            kind="credit_note",
            invoice_id=credit_id,
            number=invoice_number(sequence),
            issue_date=today,
            due_date=today,
            payment_reference=reference,
            rf_reference=rf_reference(reference),
            credited_number=was.number,
            credited_issue_date=was.issue_date,
            # An original issued before documents were checked may hold text XML cannot carry; its
            # credit note carries U+FFFD there instead, so the correction can always be written.
            seller=safe_party(was.seller),
            buyer=safe_party(was.buyer),
            breakdown=breakdown,
            net_cents=net,
            vat_cents=vat,
            gross_cents=net + vat,
        )
        note = await store.insert_credit_note(
            conn,
            original,
            credit_id,
            sequence=sequence,
            number=header.number,
            issue_date=today,
            payment_reference=reference,
            rf_reference=header.rf_reference,
            net_cents=net,
            vat_cents=vat,
            breakdown=[
                {"rate": str(b.rate), "taxable_cents": b.taxable_cents, "tax_cents": b.tax_cents}
                for b in breakdown
            ],
            item_count=len(credits),
            header=msgspec.to_builtins(header),
        )
        try:
            await store.insert_credit_lines(conn, original, credit_id, credits)
        except asyncpg.UniqueViolationError:
            raise Conflict("a line is credited at most once") from None
        if rebill:
            await store.rebill_items(conn, [c.item_id for c in credits if c.correction == "full"])
        await remember(conn, request, credit_id)
        order_ids = list((await store.invoice_facts(conn, invoice_id))["order_ids"])
        event = CreditNoteIssued(
            **_facts(note, order_ids, -1),  # type: ignore[arg-type]
            credited_invoice_id=invoice_id,
            credited_invoice_number=was.number,
        )
        await add_to_outbox(
            conn,
            SERVICE,
            envelope_for(
                event,
                source=SERVICE,
                subject=credit_id,
                version=note["version"],
                tenant_ids=[provider, note["buyer_tenant_id"]],
            ),
        )
        return note


# --- documents ---


async def open_document(
    pool: asyncpg.Pool,
    principal: Principal,
    invoice_id: uuid.UUID,
    document_format: DocumentFormat = "ubl",
) -> tuple[DocumentHeader, uuid.UUID]:
    """The header of an issued document the caller may see, and its id (whose lines it streams).

    Everything that could stop the writer is checked here, before the response starts: a header
    text that XML 1.0 cannot carry, or (Finvoice) a fact the schema's lengths refuse, is a 422
    naming the field — never a 200 whose stream breaks off."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        row = await _visible_invoice(conn, principal, invoice_id)
        if row["status"] != "issued":
            raise Conflict("a draft has no document yet; issue it first")
        header = msgspec.convert(row["header"], DocumentHeader, strict=False)
    problems = header_problems(header)
    if document_format == "finvoice":
        problems += finvoice_problems(header)
    if problems:
        raise InvariantViolated(
            f"this document cannot be written as {_FORMAT_NAMES[document_format]}",
            errors=[FieldError(field, why) for field, why in problems],
        )
    return header, row["invoice_id"]


class _Writer(Protocol):
    def open(self) -> bytes: ...
    def add(self, line: DocumentLine) -> bytes: ...
    def close(self) -> bytes: ...


def _writer(header: DocumentHeader, document_format: DocumentFormat) -> _Writer:
    if document_format == "finvoice":
        return FinvoiceWriter(header, message_id=str(new_id()), timestamp=dt.datetime.now(dt.UTC))
    return UblWriter(header)


async def document_chunks(
    pool: asyncpg.Pool,
    tenant_id: uuid.UUID,
    header: DocumentHeader,
    lines_of: uuid.UUID,
    document_format: DocumentFormat = "ubl",
) -> AsyncIterator[bytes]:
    """The document (Peppol BIS 3.0 UBL or Finvoice 3.0), streamed: lines come from a cursor and
    leave in chunks of about 64 KiB."""
    writer = _writer(header, document_format)
    pending = [writer.open()]
    size = len(pending[0])
    async with tenant_transaction(pool, tenant_id) as conn:
        lines = store.document_lines(
            conn, lines_of, header.accounting_cost, credit_note=header.kind == "credit_note"
        )
        async for line in lines:
            chunk = writer.add(line)
            pending.append(chunk)
            size += len(chunk)
            if size >= _CHUNK:
                yield b"".join(pending)
                pending, size = [], 0
    pending.append(writer.close())
    yield b"".join(pending)
