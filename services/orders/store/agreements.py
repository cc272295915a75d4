"""SQL of framework agreements."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from services.orders.domain.agreements import (
    AgreementContent,
    AgreementStatus,
    CancellationTerms,
    FrameworkAgreement,
    Lot,
    PriceItem,
    Validity,
    provider_ids,
)

__all__ = [
    "fetch_agreement",
    "insert_agreement",
    "list_agreements",
    "update_agreement",
]


# --- framework agreements ---

_AGREEMENT_COLUMNS = """
    agreement_id, status, number, title, starts_on, first_term_ends_on, hard_end_on,
    lots::text as lots, price_items::text as price_items, cancellation::text as cancellation,
    payment_terms_days, version
"""


def _agreement(row: asyncpg.Record) -> FrameworkAgreement:
    return FrameworkAgreement(
        agreement_id=row["agreement_id"],
        status=AgreementStatus(row["status"]),
        version=row["version"],
        content=AgreementContent(
            number=row["number"],
            title=row["title"],
            validity=Validity(
                starts_on=row["starts_on"],
                first_term_ends_on=row["first_term_ends_on"],
                hard_end_on=row["hard_end_on"],
            ),
            lots=msgspec.json.decode(row["lots"], type=tuple[Lot, ...]),
            price_items=msgspec.json.decode(row["price_items"], type=tuple[PriceItem, ...]),
            cancellation=msgspec.json.decode(row["cancellation"], type=CancellationTerms),
            payment_terms_days=row["payment_terms_days"],
        ),
    )


def _agreement_args(tenant_id: uuid.UUID, agreement: FrameworkAgreement) -> tuple[object, ...]:
    content = agreement.content
    return (
        tenant_id,
        agreement.agreement_id,
        agreement.status.value,
        content.number,
        content.title,
        content.validity.starts_on,
        content.validity.first_term_ends_on,
        content.validity.hard_end_on,
        content.lots,  # jsonb: the pool's codec encodes them with msgspec
        content.price_items,
        content.cancellation,
        provider_ids(content),
        agreement.version,
        content.payment_terms_days,
    )


async def insert_agreement(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, agreement: FrameworkAgreement
) -> None:
    """Raises ``asyncpg.UniqueViolationError`` when the tenant already has an agreement of this number."""
    await conn.execute(
        """
        insert into framework_agreements
          (tenant_id, agreement_id, status, number, title, starts_on, first_term_ends_on, hard_end_on,
           lots, price_items, cancellation, provider_ids, version, payment_terms_days)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11::jsonb, $12, $13, $14)
        """,
        *_agreement_args(tenant_id, agreement),
    )


async def update_agreement(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, agreement: FrameworkAgreement, *, expected_version: int
) -> bool:
    """Write ``agreement`` over the row at ``expected_version``; ``False`` if it moved meanwhile."""
    status = await conn.execute(
        """
        update framework_agreements
        set status = $3, number = $4, title = $5, starts_on = $6, first_term_ends_on = $7,
            hard_end_on = $8, lots = $9::jsonb, price_items = $10::jsonb, cancellation = $11::jsonb,
            provider_ids = $12, version = $13, payment_terms_days = $14, updated_at = now()
        where tenant_id = $1 and agreement_id = $2 and version = $15
        """,
        *_agreement_args(tenant_id, agreement),
        expected_version,
    )
    return bool(status == "UPDATE 1")


async def fetch_agreement(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, agreement_id: uuid.UUID, *, for_update: bool = False
) -> FrameworkAgreement | None:
    lock = " for update" if for_update else ""
    row = await conn.fetchrow(
        f"select {_AGREEMENT_COLUMNS} from framework_agreements"
        f" where tenant_id = $1 and agreement_id = $2{lock}",
        tenant_id,
        agreement_id,
    )
    return _agreement(row) if row else None


async def list_agreements(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    *,
    after: uuid.UUID | None,
    limit: int,
    status: AgreementStatus | None = None,
) -> list[FrameworkAgreement]:
    rows = await conn.fetch(
        f"select {_AGREEMENT_COLUMNS} from framework_agreements"
        " where tenant_id = $1 and ($2::uuid is null or agreement_id > $2)"
        " and ($3::text is null or status = $3)"
        " order by agreement_id limit $4",
        tenant_id,
        after,
        status.value if status else None,
        limit,
    )
    return [_agreement(row) for row in rows]
