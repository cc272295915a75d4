"""The orders service's SQL: one function per query, each on a connection inside a tenant transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

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
from services.orders.domain.orders import Order, OrderStatus, committed_cents
from shared.contracts.organisations import CostCentreFacts, PersonFacts, SupervisorProfileFacts

__all__ = [
    "KnownCostCentre",
    "active_people",
    "approver_cost_centres",
    "committed_on_cost_centre",
    "deactivate_cost_centre",
    "deactivate_person",
    "deactivate_provider",
    "fetch_active_providers",
    "fetch_agreement",
    "fetch_cost_centre_budget",
    "fetch_cost_centre_version",
    "fetch_order",
    "fetch_person_version",
    "fetch_supervisor_version",
    "insert_agreement",
    "insert_order",
    "list_agreements",
    "list_cost_centres",
    "list_orders",
    "pass_offer",
    "provider_tenant",
    "supervisor_qualifications",
    "update_agreement",
    "update_order",
    "upsert_cost_centre",
    "upsert_person",
    "upsert_provider",
    "upsert_supervisor",
]


class KnownCostCentre(msgspec.Struct, frozen=True, kw_only=True):
    cost_centre_id: uuid.UUID
    code: str
    name: str
    yearly_budget_cents: int
    active: bool
    approver_ids: list[uuid.UUID]


# --- cost centres and approvers ---


async def upsert_cost_centre(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, facts: CostCentreFacts, *, version: int
) -> None:
    await conn.execute(
        """
        insert into known_cost_centres
          (tenant_id, cost_centre_id, code, name, yearly_budget_cents, active, version)
        values ($1, $2, $3, $4, $5, $6, $7)
        on conflict (tenant_id, cost_centre_id) do update
          set code = excluded.code, name = excluded.name,
              yearly_budget_cents = excluded.yearly_budget_cents, active = excluded.active,
              version = excluded.version, updated_at = now()
          where known_cost_centres.version < excluded.version
        """,
        tenant_id,
        facts.cost_centre_id,
        facts.code,
        facts.name,
        facts.yearly_budget_cents,
        facts.active,
        version,
    )


async def fetch_cost_centre_version(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID
) -> int | None:
    version: int | None = await conn.fetchval(
        "select version from known_cost_centres where tenant_id = $1 and cost_centre_id = $2 for update",
        tenant_id,
        cost_centre_id,
    )
    return version


async def deactivate_cost_centre(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID, *, version: int
) -> None:
    await conn.execute(
        """
        update known_cost_centres set active = false, version = $3, updated_at = now()
        where tenant_id = $1 and cost_centre_id = $2 and version < $3
        """,
        tenant_id,
        cost_centre_id,
        version,
    )


async def list_cost_centres(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[KnownCostCentre]:
    rows = await conn.fetch(
        """
        select c.cost_centre_id, c.code, c.name, c.yearly_budget_cents, c.active,
               array(select a.person_id from approver_directory a
                     where a.tenant_id = c.tenant_id and a.cost_centre_id = c.cost_centre_id
                       and a.assigned
                     order by a.person_id) as approver_ids
        from known_cost_centres c
        where c.tenant_id = $1 and ($2::uuid is null or c.cost_centre_id > $2)
        order by c.cost_centre_id limit $3
        """,
        tenant_id,
        after,
        limit,
    )
    return [
        KnownCostCentre(
            cost_centre_id=row["cost_centre_id"],
            code=row["code"],
            name=row["name"],
            yearly_budget_cents=row["yearly_budget_cents"],
            active=row["active"],
            approver_ids=list(row["approver_ids"]),
        )
        for row in rows
    ]


# --- people ---


async def upsert_person(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, facts: PersonFacts, *, version: int
) -> None:
    await conn.execute(
        """
        insert into known_people (tenant_id, person_id, roles, hr_employee_number, active, version)
        values ($1, $2, $3, $4, $5, $6)
        on conflict (tenant_id, person_id) do update
          set roles = excluded.roles, hr_employee_number = excluded.hr_employee_number,
              active = excluded.active, version = excluded.version, updated_at = now()
          where known_people.version < excluded.version
        """,
        tenant_id,
        facts.person_id,
        list(facts.roles),
        facts.hr_employee_number,
        facts.active,
        version,
    )


async def fetch_person_version(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> int | None:
    version: int | None = await conn.fetchval(
        "select version from known_people where tenant_id = $1 and person_id = $2 for update",
        tenant_id,
        person_id,
    )
    return version


async def active_people(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``person_ids`` who are active people of ``tenant_id`` as orders knows them."""
    rows = await conn.fetch(
        "select person_id from known_people where tenant_id = $1 and person_id = any($2::uuid[]) and active",
        tenant_id,
        list(person_ids),
    )
    return {row["person_id"] for row in rows}


async def deactivate_person(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID, *, version: int
) -> None:
    await conn.execute(
        """
        update known_people set active = false, version = $3, updated_at = now()
        where tenant_id = $1 and person_id = $2 and version < $3
        """,
        tenant_id,
        person_id,
        version,
    )


# --- supervisors ---


def _supervisor_args(facts: SupervisorProfileFacts) -> Sequence[object]:
    return (
        list(facts.forms),
        list(facts.languages),
        list(facts.regions),
        list(facts.delivery_modes),
        facts.available,
        list(facts.qualifications),
    )


async def upsert_supervisor(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, facts: SupervisorProfileFacts, *, version: int
) -> None:
    await conn.execute(
        """
        insert into known_supervisors
          (tenant_id, person_id, forms, languages, regions, delivery_modes, available, qualifications,
           version)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        on conflict (tenant_id, person_id) do update
          set forms = excluded.forms, languages = excluded.languages, regions = excluded.regions,
              delivery_modes = excluded.delivery_modes, available = excluded.available,
              qualifications = excluded.qualifications, version = excluded.version, updated_at = now()
          where known_supervisors.version < excluded.version
        """,
        tenant_id,
        facts.person_id,
        *_supervisor_args(facts),
        version,
    )


async def fetch_supervisor_version(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> int | None:
    version: int | None = await conn.fetchval(
        "select version from known_supervisors where tenant_id = $1 and person_id = $2 for update",
        tenant_id,
        person_id,
    )
    return version


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


async def upsert_provider(
    conn: asyncpg.Connection, provider_id: uuid.UUID, *, name: str, active: bool, version: int
) -> None:
    await conn.execute(
        """
        insert into provider_catalogue (provider_id, name, active, version) values ($1, $2, $3, $4)
        on conflict (provider_id) do update
          set name = excluded.name, active = excluded.active, version = excluded.version, updated_at = now()
          where provider_catalogue.version < excluded.version
        """,
        provider_id,
        name,
        active,
        version,
    )


async def deactivate_provider(conn: asyncpg.Connection, provider_id: uuid.UUID, *, version: int) -> None:
    await conn.execute(
        "update provider_catalogue set active = false, version = $2, updated_at = now()"
        " where provider_id = $1 and version < $2",
        provider_id,
        version,
    )


async def fetch_active_providers(conn: asyncpg.Connection, provider_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "select provider_id from provider_catalogue where provider_id = any($1::uuid[]) and active",
        provider_ids,
    )
    return {row["provider_id"] for row in rows}


# --- supervision orders (rows shared by the buyer and, once offered, the provider) ---

_OFFERED_ON = frozenset(
    {
        OrderStatus.OFFERED,
        OrderStatus.ACCEPTED,
        OrderStatus.DECLINED,
        OrderStatus.ACTIVE,
        OrderStatus.COMPLETED,
        OrderStatus.INTERRUPTED,
    }
)
COMMITTED_STATUSES = ("approved", "offered", "accepted", "active", "completed", "interrupted")
"""Statuses whose snapshotted cost holds budget (a declined or cancelled order releases it)."""


def provider_tenant(order: Order) -> uuid.UUID | None:
    """The provider sees the row only once it is offered to them (also when cancelled after that)."""
    if order.status in _OFFERED_ON:
        return order.provider_id
    if order.status is OrderStatus.CANCELLED and order.cancelled_from in _OFFERED_ON:
        return order.provider_id
    return None


def _order_args(order: Order) -> tuple[object, ...]:
    return (
        order.buyer_tenant_id,
        order.order_id,
        provider_tenant(order),
        order.cost_centre_id,
        order.status.value,
        order.starts_on,
        committed_cents(order) if order.status.value in COMMITTED_STATUSES else None,
        order,  # jsonb: the pool's codec encodes it with msgspec
        order.version,
    )


async def insert_order(conn: asyncpg.Connection, order: Order) -> None:
    await conn.execute(
        """
        insert into supervision_orders
          (tenant_id, order_id, provider_tenant_id, cost_centre_id, status, starts_on, committed_cents,
           doc, version, order_number)
        values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)
        """,
        *_order_args(order),
        order.order_number,
    )


async def next_order_number(conn: asyncpg.Connection, buyer_id: uuid.UUID, year: int) -> int:
    """The buyer's next order number of ``year``; the counter row stays locked until the creating
    transaction ends, so concurrent creates wait their turn and a rollback leaves no gap (0011)."""
    number: int = await conn.fetchval(
        """
        insert into order_number_counters (tenant_id, year, last_number) values ($1, $2, 1)
        on conflict (tenant_id, year) do update set last_number = order_number_counters.last_number + 1
        returning last_number
        """,
        buyer_id,
        year,
    )
    return number


async def update_order(conn: asyncpg.Connection, order: Order, *, expected_version: int) -> bool:
    """Write ``order`` over the row at ``expected_version``; ``False`` if it moved meanwhile."""
    status = await conn.execute(
        """
        update supervision_orders
        set provider_tenant_id = $3, cost_centre_id = $4, status = $5, starts_on = $6,
            committed_cents = $7, doc = $8::jsonb, version = $9, updated_at = now()
        where tenant_id = $1 and order_id = $2 and version = $10
        """,
        *_order_args(order),
        expected_version,
    )
    return bool(status == "UPDATE 1")


async def pass_offer(conn: asyncpg.Connection, order: Order, *, expected_version: int) -> bool:
    """The provider holding the offer passes it to the next-ranked provider (``order.provider_id``).

    Through ``pass_order_offer`` (migration 0007), the one write a provider makes of a row it will no
    longer see; ``False`` if the row moved meanwhile.
    """
    passed: bool = await conn.fetchval(
        "select pass_order_offer($1, $2, $3::jsonb)", order.order_id, expected_version, order
    )
    return passed


async def fetch_order(
    conn: asyncpg.Connection, order_id: uuid.UUID, *, for_update: bool = False
) -> Order | None:
    """The order if the current tenant is its buyer or the provider it was offered to (RLS)."""
    lock = " for update" if for_update else ""
    raw: str | None = await conn.fetchval(
        f"select doc::text from supervision_orders where order_id = $1{lock}", order_id
    )
    return msgspec.json.decode(raw, type=Order) if raw is not None else None


async def list_orders(
    conn: asyncpg.Connection,
    *,
    after: uuid.UUID | None,
    limit: int,
    status: OrderStatus | None = None,
    cost_centre_id: uuid.UUID | None = None,
    supervisor_id: uuid.UUID | None = None,
    period_from: dt.date | None = None,
    period_to: dt.date | None = None,
) -> list[Order]:
    """Orders the current tenant sees (as buyer or provider), by id.

    ``period_from``/``period_to``: orders whose period (start to end day) overlaps the given days.
    """
    rows = await conn.fetch(
        "select doc::text as doc from supervision_orders"
        " where ($1::uuid is null or order_id > $1) and ($2::text is null or status = $2)"
        " and ($3::uuid is null or cost_centre_id = $3)"
        " and ($4::uuid is null or doc ->> 'supervisor_id' = $4::text)"
        " and ($5::date is null or (doc ->> 'ends_on')::date >= $5)"
        " and ($6::date is null or starts_on <= $6)"
        " order by order_id limit $7",
        after,
        status.value if status else None,
        cost_centre_id,
        supervisor_id,
        period_from,
        period_to,
        limit,
    )
    return [msgspec.json.decode(row["doc"], type=Order) for row in rows]


async def approver_cost_centres(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> frozenset[uuid.UUID]:
    """The active cost centres the person is an assigned approver of."""
    rows = await conn.fetch(
        """
        select a.cost_centre_id from approver_directory a
        join known_cost_centres c on c.tenant_id = a.tenant_id and c.cost_centre_id = a.cost_centre_id
        where a.tenant_id = $1 and a.person_id = $2 and a.assigned and c.active
        """,
        tenant_id,
        person_id,
    )
    return frozenset(row["cost_centre_id"] for row in rows)


async def fetch_cost_centre_budget(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID
) -> int | None:
    """The yearly budget of an active cost centre; ``None`` if unknown or deactivated."""
    budget: int | None = await conn.fetchval(
        "select yearly_budget_cents from known_cost_centres"
        " where tenant_id = $1 and cost_centre_id = $2 and active",
        tenant_id,
        cost_centre_id,
    )
    return budget


async def committed_on_cost_centre(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    cost_centre_id: uuid.UUID,
    *,
    year: int,
    other_than: uuid.UUID,
) -> int:
    """The snapshotted costs of the cost centre's other approved orders starting in ``year``."""
    total: int = await conn.fetchval(
        """
        select coalesce(sum(committed_cents), 0)::bigint from supervision_orders
        where tenant_id = $1 and cost_centre_id = $2 and order_id <> $3
          and status = any($4::text[]) and extract(year from starts_on) = $5
        """,
        tenant_id,
        cost_centre_id,
        other_than,
        list(COMMITTED_STATUSES),
        year,
    )
    return total


async def supervisor_qualifications(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> frozenset[str] | None:
    """The supervisor's qualification kinds if their profile is visible in ``tenant_id``, else ``None``."""
    row = await conn.fetchrow(
        "select array(select q ->> 'type' from jsonb_array_elements(qualifications) q) as kinds"
        " from known_supervisors where tenant_id = $1 and person_id = $2",
        tenant_id,
        person_id,
    )
    return frozenset(row["kinds"]) if row is not None else None
