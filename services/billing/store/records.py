"""What billing's store answers: typed rows (never ``asyncpg.Record``) for handlers and the API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec

__all__ = [
    "Invoice",
    "IssueFacts",
    "SpecificationRow",
    "invoice_of",
    "issue_facts_of",
    "specification_row_of",
]


class Invoice(msgspec.Struct, frozen=True, kw_only=True):
    """An invoice or credit note row (``invoices``)."""

    tenant_id: uuid.UUID
    buyer_tenant_id: uuid.UUID
    invoice_id: uuid.UUID
    kind: str
    status: str
    agreement_id: uuid.UUID
    cost_centre_id: uuid.UUID
    order_id: uuid.UUID | None
    billing_month: dt.date
    sequence: int | None
    number: str | None
    issue_date: dt.date | None
    due_date: dt.date | None
    payment_terms_days: int | None
    payment_reference: str | None
    rf_reference: str | None
    net_cents: int
    vat_cents: int
    gross_cents: int
    breakdown: list[dict[str, Any]] | None
    item_count: int
    header: dict[str, Any] | None
    credited_invoice_id: uuid.UUID | None
    version: int


def invoice_of(row: asyncpg.Record) -> Invoice:
    return Invoice(
        tenant_id=row["tenant_id"],
        buyer_tenant_id=row["buyer_tenant_id"],
        invoice_id=row["invoice_id"],
        kind=row["kind"],
        status=row["status"],
        agreement_id=row["agreement_id"],
        cost_centre_id=row["cost_centre_id"],
        order_id=row["order_id"],
        billing_month=row["billing_month"],
        sequence=row["sequence"],
        number=row["number"],
        issue_date=row["issue_date"],
        due_date=row["due_date"],
        payment_terms_days=row["payment_terms_days"],
        payment_reference=row["payment_reference"],
        rf_reference=row["rf_reference"],
        net_cents=row["net_cents"],
        vat_cents=row["vat_cents"],
        gross_cents=row["gross_cents"],
        breakdown=row["breakdown"],
        item_count=row["item_count"],
        header=row["header"],
        credited_invoice_id=row["credited_invoice_id"],
        version=row["version"],
    )


class IssueFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the header needs of an invoice's items and orders."""

    period_start: dt.date | None
    period_end: dt.date | None
    order_ids: list[uuid.UUID]
    payment_terms_days: int | None
    agreement_number: str | None
    order_number: str | None
    cost_centre_code: str | None


def issue_facts_of(row: asyncpg.Record) -> IssueFacts:
    return IssueFacts(
        period_start=row["period_start"],
        period_end=row["period_end"],
        order_ids=list(row["order_ids"] or []),
        payment_terms_days=row["payment_terms_days"],
        agreement_number=row["agreement_number"],
        order_number=row["order_number"],
        cost_centre_code=row["cost_centre_code"],
    )


class SpecificationRow(msgspec.Struct, frozen=True, kw_only=True):
    """A charged (or credited) session of an invoice's specification; counts, never who attended."""

    session_id: uuid.UUID
    order_id: uuid.UUID
    service_date: dt.date
    starts_at: dt.datetime
    form: str
    mode: str
    duration_minutes: int
    kind: str
    charge_percent: int
    participant_count: int
    attended_count: int
    net_cents: int
    vat_rate: Decimal


def specification_row_of(row: asyncpg.Record) -> SpecificationRow:
    return SpecificationRow(
        session_id=row["session_id"],
        order_id=row["order_id"],
        service_date=row["service_date"],
        starts_at=row["starts_at"],
        form=row["form"],
        mode=row["mode"],
        duration_minutes=row["duration_minutes"],
        kind=row["kind"],
        charge_percent=row["charge_percent"],
        participant_count=row["participant_count"],
        attended_count=row["attended_count"],
        net_cents=row["net_cents"],
        vat_rate=Decimal(row["vat_rate"]),
    )
