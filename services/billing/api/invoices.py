"""Invoices over HTTP: the provider admin runs, reviews, issues and credits; the buyer admin and the
cost centre's approvers read what is addressed to them, its specification and its e-invoice.

Every route acts as the caller's tenant (from the token); another tenant's invoice answers 404,
as does a buyer-side caller's view of a draft or of another cost centre's invoice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from services.billing import handlers
from services.billing.domain.credits import CreditRequestLine
from services.billing.handlers import Invoice, SpecificationRow
from shared.auth.guards import requires_role
from shared.auth.principal import APPROVER, BUYER_ADMIN, PROVIDER_ADMIN
from shared.http.dependencies import Caller, Pool
from shared.http.idempotency import IdempotencyKey, request_hash
from shared.http.pagination import Page, PageSize, decode_cursor, encode_cursor
from shared.http.versions import IfMatch, expected_version, versioned

__all__ = [
    "CreditBody",
    "InvoiceController",
    "InvoiceOut",
    "RequirementsBody",
    "RunBody",
    "SpecificationOut",
]


PROVIDER_ADMINS = [requires_role(PROVIDER_ADMIN)]
READERS = [requires_role(PROVIDER_ADMIN, BUYER_ADMIN, APPROVER)]
BUYER_ADMINS = [requires_role(BUYER_ADMIN)]


class _Body(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    pass


class RunBody(_Body, frozen=True, kw_only=True):
    month: Annotated[
        dt.date | None,
        msgspec.Meta(
            description=(
                "The first day of a Europe/Helsinki month; every month with unbilled items when absent."
            )
        ),
    ] = None


class RequirementsBody(_Body, frozen=True, kw_only=True):
    per_order: Annotated[
        bool,
        msgspec.Meta(
            description="Invoice each order separately instead of per agreement, cost centre and month."
        ),
    ]


DecimalText = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,12}(\.[0-9]{1,6})?$", max_length=20)]


class CreditLineBody(_Body, frozen=True, kw_only=True):
    session_id: Annotated[
        uuid.UUID,
        msgspec.Meta(description="The line, by the session it bills (as the specification lists it)"),
    ]
    quantity: Annotated[
        DecimalText | None,
        msgspec.Meta(
            description="Credit this much of the line's quantity (in its unit) at the invoiced price"
        ),
    ] = None
    correct_unit_price: Annotated[
        DecimalText | None,
        msgspec.Meta(description="The correct price per base quantity (euros); the difference is credited"),
    ] = None


class CreditBody(_Body, frozen=True, kw_only=True):
    lines: Annotated[
        Annotated[list[CreditLineBody], msgspec.Meta(max_length=10_000)] | None,
        msgspec.Meta(description="The lines to credit; every line not yet credited when absent"),
    ] = None
    rebill: Annotated[
        bool, msgspec.Meta(description="Lines credited in whole return to billable for the next invoice run")
    ] = True


class RequirementsOut(msgspec.Struct, frozen=True, rename="camel"):
    per_order: Annotated[
        bool,
        msgspec.Meta(
            description="Invoice each order separately instead of per agreement, cost centre and month"
        ),
    ]
    version: Annotated[
        int, msgspec.Meta(description="The requirements' version; its ETag, to send back as If-Match")
    ]


class VatOut(msgspec.Struct, frozen=True, rename="camel"):
    rate: Annotated[str, msgspec.Meta(description="The VAT rate, in percent (e.g. 25.5)")]
    taxable_cents: Annotated[int, msgspec.Meta(description="The amount the rate applies to, in euro cents")]
    tax_cents: Annotated[int, msgspec.Meta(description="The VAT at this rate, in euro cents")]


class InvoiceOut(msgspec.Struct, frozen=True, rename="camel"):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The invoice's id")]
    kind: Annotated[str, msgspec.Meta(description="invoice, or credit_note for one that credits another")]
    status: Annotated[
        str, msgspec.Meta(description="draft (changes with new items) or issued (numbered and frozen)")
    ]
    provider_id: Annotated[uuid.UUID, msgspec.Meta(description="The provider tenant that invoices")]
    buyer_id: Annotated[uuid.UUID, msgspec.Meta(description="The buyer tenant invoiced")]
    agreement_id: Annotated[
        uuid.UUID, msgspec.Meta(description="The framework agreement the invoiced orders were made under")
    ]
    cost_centre_id: Annotated[
        uuid.UUID, msgspec.Meta(description="The buyer's cost centre the invoice is addressed to")
    ]
    order_id: Annotated[
        uuid.UUID | None,
        msgspec.Meta(description="The order, when the buyer wants one invoice per order; absent otherwise"),
    ]
    billing_month: Annotated[str, msgspec.Meta(description="The month invoiced (YYYY-MM, Europe/Helsinki)")]
    number: Annotated[str | None, msgspec.Meta(description="The invoice number, given when it is issued")]
    issue_date: Annotated[dt.date | None, msgspec.Meta(description="The invoice date, set when it is issued")]
    due_date: Annotated[
        dt.date | None,
        msgspec.Meta(description="The due date: the issue date plus the agreement's payment terms"),
    ]
    payment_reference: Annotated[
        str | None, msgspec.Meta(description="The Finnish payment reference (viitenumero), set when issued")
    ]
    rf_reference: Annotated[
        str | None, msgspec.Meta(description="The same reference in the international RF form (ISO 11649)")
    ]
    net_cents: Annotated[int, msgspec.Meta(description="The total before VAT, in euro cents")]
    vat_cents: Annotated[int, msgspec.Meta(description="The VAT, in euro cents")]
    gross_cents: Annotated[int, msgspec.Meta(description="The total with VAT, in euro cents")]
    vat_breakdown: Annotated[list[VatOut], msgspec.Meta(description="The VAT per rate")]
    item_count: Annotated[int, msgspec.Meta(description="How many billable sessions the invoice carries")]
    credited_invoice_id: Annotated[
        uuid.UUID | None, msgspec.Meta(description="For a credit note, the invoice it credits")
    ]
    version: Annotated[
        int, msgspec.Meta(description="The invoice's version; its ETag, to send back as If-Match")
    ]


class SessionRowOut(msgspec.Struct, frozen=True, rename="camel"):
    session_id: Annotated[uuid.UUID, msgspec.Meta(description="The session billed")]
    order_id: Annotated[uuid.UUID, msgspec.Meta(description="The order the session belongs to")]
    date: Annotated[dt.date, msgspec.Meta(description="The session's date (Europe/Helsinki)")]
    starts_at: Annotated[dt.datetime, msgspec.Meta(description="When the session started")]
    form: Annotated[str, msgspec.Meta(description="The supervision form")]
    mode: Annotated[str, msgspec.Meta(description="How the session was delivered")]
    duration_minutes: Annotated[int, msgspec.Meta(description="The session's length, in minutes")]
    charge: Annotated[str, msgspec.Meta(description="Why it is charged: held, late cancellation or no-show")]
    charge_percent: Annotated[
        int, msgspec.Meta(description="The share of the price charged (100 for a held session)")
    ]
    participant_count: Annotated[int, msgspec.Meta(description="How many participants the session had")]
    attended_count: Annotated[int, msgspec.Meta(description="How many of them attended")]
    net_cents: Annotated[int, msgspec.Meta(description="The amount before VAT, in euro cents")]
    vat_rate: Annotated[str, msgspec.Meta(description="The VAT rate that applies, in percent")]


class SpecificationOut(msgspec.Struct, frozen=True, rename="camel"):
    invoice: Annotated[InvoiceOut, msgspec.Meta(description="The invoice")]
    sessions: Annotated[
        list[SessionRowOut],
        msgspec.Meta(description="The sessions it bills, one row each (no participant names)"),
    ]


def _out(row: Invoice) -> InvoiceOut:
    breakdown: list[dict[str, Any]] = row.breakdown or []
    return InvoiceOut(
        id=row.invoice_id,
        kind=row.kind,
        status=row.status,
        provider_id=row.tenant_id,
        buyer_id=row.buyer_tenant_id,
        agreement_id=row.agreement_id,
        cost_centre_id=row.cost_centre_id,
        order_id=row.order_id,
        billing_month=row.billing_month.strftime("%Y-%m"),
        number=row.number,
        issue_date=row.issue_date,
        due_date=row.due_date,
        payment_reference=row.payment_reference,
        rf_reference=row.rf_reference,
        net_cents=row.net_cents,
        vat_cents=row.vat_cents,
        gross_cents=row.gross_cents,
        vat_breakdown=[
            VatOut(rate=str(b["rate"]), taxable_cents=int(b["taxable_cents"]), tax_cents=int(b["tax_cents"]))
            for b in breakdown
        ],
        item_count=row.item_count,
        credited_invoice_id=row.credited_invoice_id,
        version=row.version,
    )


def _row(row: SpecificationRow) -> SessionRowOut:
    return SessionRowOut(
        session_id=row.session_id,
        order_id=row.order_id,
        date=row.service_date,
        starts_at=row.starts_at,
        form=row.form,
        mode=row.mode,
        duration_minutes=row.duration_minutes,
        charge=row.kind,
        charge_percent=row.charge_percent,
        participant_count=row.participant_count,
        attended_count=row.attended_count,
        net_cents=row.net_cents,
        vat_rate=str(row.vat_rate),
    )


class InvoiceController(Controller):
    """Invoices and credit notes (laskut ja hyvityslaskut)."""

    path = "/"
    tags = ["invoices"]

    @post(
        "/invoice-runs",
        operation_id="runInvoices",
        summary="Gather the provider's unbilled sessions into draft invoices",
        guards=PROVIDER_ADMINS,
        status_code=200,
    )
    async def run(self, data: JSONBody[RunBody], pool: Pool, principal: Caller) -> list[InvoiceOut]:
        return [_out(row) for row in await handlers.run_invoices(pool, principal, data.month)]

    @get("/invoices", operation_id="listInvoices", summary="The invoices the caller may read", guards=READERS)
    async def index(
        self, pool: Pool, principal: Caller, cursor: FromQuery[str | None] = None, limit: PageSize = 50
    ) -> Page[InvoiceOut]:
        after: uuid.UUID | None = decode_cursor(cursor, uuid.UUID)[0] if cursor else None
        rows = await handlers.list_invoices(pool, principal, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(str(rows[-1].invoice_id)) if more and rows else None
        return Page(items=[_out(r) for r in rows], next_cursor=next_cursor)

    @get("/invoices/{invoice_id:uuid}", operation_id="getInvoice", summary="One invoice", guards=READERS)
    async def read(
        self, invoice_id: FromPath[uuid.UUID], pool: Pool, principal: Caller
    ) -> Response[InvoiceOut]:
        row = await handlers.get_invoice(pool, principal, invoice_id)
        return versioned(_out(row), row.version)

    @get(
        "/invoices/{invoice_id:uuid}/specification",
        operation_id="getInvoiceSpecification",
        summary="The sessions an invoice charges, with attendance counts",
        description=(
            "Only charged sessions are listed (a credit note lists what it credits). A session that "
            "is not charged — cancelled on time, by the supervisor, or late but exempt by the terms — "
            "appears nowhere in billing, so none of these can be told from the others."
        ),
        guards=READERS,
    )
    async def specification(
        self, invoice_id: FromPath[uuid.UUID], pool: Pool, principal: Caller
    ) -> SpecificationOut:
        row, sessions = await handlers.get_specification(pool, principal, invoice_id)
        return SpecificationOut(invoice=_out(row), sessions=[_row(s) for s in sessions])

    @get(
        "/invoices/{invoice_id:uuid}/ubl",
        operation_id="getInvoiceUbl",
        summary="The issued document as a Peppol BIS Billing 3.0 (UBL 2.1) e-invoice, streamed",
        guards=READERS,
        media_type="application/xml",
    )
    async def ubl(self, invoice_id: FromPath[uuid.UUID], pool: Pool, principal: Caller) -> Stream:
        header, lines_of = await handlers.open_document(pool, principal, invoice_id)
        return Stream(
            handlers.document_chunks(pool, principal.tenant_id, header, lines_of),
            media_type="application/xml",
        )

    @get(
        "/invoices/{invoice_id:uuid}/finvoice",
        operation_id="getInvoiceFinvoice",
        summary="The issued document as a Finvoice 3.0 e-invoice, streamed",
        guards=READERS,
        media_type="application/xml",
    )
    async def finvoice(self, invoice_id: FromPath[uuid.UUID], pool: Pool, principal: Caller) -> Stream:
        header, lines_of = await handlers.open_document(pool, principal, invoice_id, "finvoice")
        return Stream(
            handlers.document_chunks(pool, principal.tenant_id, header, lines_of, "finvoice"),
            media_type="application/xml",
        )

    @post(
        "/invoices/{invoice_id:uuid}/issue",
        operation_id="issueInvoice",
        summary="Number, date and freeze a draft invoice",
        guards=PROVIDER_ADMINS,
        status_code=200,
    )
    async def issue(
        self, invoice_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[InvoiceOut]:
        row = await handlers.issue_invoice(
            pool, principal, invoice_id, expected_version=expected_version(if_match)
        )
        return versioned(_out(row), row.version)

    @post(
        "/invoices/{invoice_id:uuid}/credit-note",
        operation_id="creditInvoice",
        summary="Credit lines of an issued invoice (all of them without a body)",
        description=(
            "Each named line is credited in whole, by a `quantity`, or by a `correctUnitPrice` (the "
            "difference is credited), at most once. Lines credited in whole return to billable unless "
            "`rebill` is false, so the next invoice run bills them on a new invoice. The same "
            "Idempotency-Key with the same body answers the same credit note."
        ),
        guards=PROVIDER_ADMINS,
        status_code=201,
    )
    async def credit(
        self,
        invoice_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        data: JSONBody[CreditBody | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[InvoiceOut]:
        body = data or CreditBody()
        row = await handlers.credit_invoice(
            pool,
            principal,
            invoice_id,
            None
            if body.lines is None
            else [
                CreditRequestLine(
                    session_id=line.session_id,
                    quantity=line.quantity,
                    correct_unit_price=line.correct_unit_price,
                )
                for line in body.lines
            ],
            rebill=body.rebill,
            idempotency_key=idempotency_key,
            body_hash=request_hash(principal.subject, str(invoice_id).encode() + msgspec.json.encode(body)),
        )
        return versioned(_out(row), row.version, status_code=201)

    @put(
        "/invoicing-requirements",
        operation_id="setInvoicingRequirements",
        summary="The buyer's invoicing requirements (an invoice per order or not)",
        guards=BUYER_ADMINS,
    )
    async def requirements(
        self, data: JSONBody[RequirementsBody], pool: Pool, principal: Caller
    ) -> RequirementsOut:
        version = await handlers.set_invoicing_requirements(pool, principal, per_order=data.per_order)
        return RequirementsOut(per_order=data.per_order, version=version)
