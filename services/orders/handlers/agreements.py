"""Use cases of framework agreements: the buyer's (tenant from the token), announced to the buyer
and every admitted provider."""

from __future__ import annotations

import uuid

import asyncpg

from services.orders import SERVICE, store
from services.orders.domain import agreements as domain
from services.orders.domain.agreements import AgreementContent, AgreementStatus, FrameworkAgreement
from shared.auth.principal import APPROVER, BUYER_ADMIN, Principal
from shared.contracts import orders as contracts
from shared.db.tenant import tenant_transaction
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvariantViolated,
    NotFound,
    check_version,
)
from shared.events import add_to_outbox, envelope_for
from shared.http.pagination import decode_cursor, encode_cursor
from shared.ids import new_id
from shared.tenancy import fetch_known_tenant

__all__ = [
    "activate_agreement",
    "create_agreement",
    "end_agreement",
    "get_agreement",
    "list_agreements",
    "replace_agreement",
]


# --- framework agreements (the buyer's; tenant from the token) ---


async def _buyer(conn: asyncpg.Connection, principal: Principal, *, writes: bool = True) -> uuid.UUID:
    """The caller's tenant, which must be a buyer Tila knows; writes need its buyer admin."""
    if not principal.has_role(BUYER_ADMIN) and (writes or not principal.has_role(APPROVER)):
        raise Forbidden("insufficient role")
    tenant = await fetch_known_tenant(conn, principal.tenant_id)
    if tenant is None or tenant.kind != "buyer":
        raise Forbidden("only buyer tenants keep framework agreements")
    if writes and not tenant.active:
        raise Forbidden("the tenant is deactivated")
    return tenant.tenant_id


async def _check_providers(conn: asyncpg.Connection, content: AgreementContent) -> None:
    """Every admitted provider is an active provider tenant (from the public provider catalogue)."""
    admitted = [
        (i, j, p.provider_id) for i, lot in enumerate(content.lots) for j, p in enumerate(lot.providers)
    ]
    active = await store.fetch_active_providers(conn, [provider_id for _, _, provider_id in admitted])
    for i, j, provider_id in admitted:
        if provider_id not in active:
            field = f"body.lots[{i}].providers[{j}].providerId"
            raise InvariantViolated(
                "no such provider", errors=[FieldError(field, "not an active provider tenant")]
            )


async def _agreement(
    conn: asyncpg.Connection, buyer_id: uuid.UUID, agreement_id: uuid.UUID, *, for_update: bool = True
) -> FrameworkAgreement:
    agreement = await store.fetch_agreement(conn, buyer_id, agreement_id, for_update=for_update)
    if agreement is None:
        raise NotFound("agreement not found")
    return agreement


def _number_taken() -> Conflict:
    return Conflict(
        "the tenant already has an agreement of this number",
        errors=[FieldError("body.number", "already in use")],
    )


def _facts(
    cls: type[contracts.AgreementActivated] | type[contracts.AgreementChanged],
    buyer_id: uuid.UUID,
    agreement: FrameworkAgreement,
) -> contracts.AgreementFacts:
    content = agreement.content
    terms = content.cancellation
    return cls(
        agreement_id=agreement.agreement_id,
        buyer_id=buyer_id,
        number=content.number,
        title=content.title,
        starts_on=content.validity.starts_on,
        first_term_ends_on=content.validity.first_term_ends_on,
        hard_end_on=content.validity.hard_end_on,
        lots=[
            contracts.LotFact(
                name=lot.name,
                forms=[form.value for form in lot.forms],
                region=lot.region,
                required_qualifications=sorted(q.value for q in lot.required_qualifications),
                providers=[
                    contracts.AdmittedProviderFact(provider_id=p.provider_id, rank=p.rank)
                    for p in lot.providers
                ],
            )
            for lot in content.lots
        ],
        price_items=[
            contracts.PriceItemFact(
                lot=item.lot,
                form=item.form.value,
                duration_minutes=item.duration_minutes,
                mode=item.mode.value,
                unit=item.unit.value,
                net_price_cents=item.net_price_cents,
                valid_from=item.valid_from,
            )
            for item in content.price_items
        ],
        cancellation=contracts.CancellationTermsFact(
            late_threshold_hours=terms.late_threshold_hours,
            late_cancellation_charge_percent=terms.late_cancellation_charge_percent,
            no_show_charge_percent=terms.no_show_charge_percent,
            illness_exempt=terms.illness_exempt,
        ),
    )


async def _announce(
    conn: asyncpg.Connection,
    buyer_id: uuid.UUID,
    agreement: FrameworkAgreement,
    event: contracts.AgreementFacts | contracts.AgreementEnded,
    *,
    removed: list[uuid.UUID] | None = None,
) -> None:
    """To the buyer and every admitted provider: providers hear of agreements they are admitted to.

    ``removed``: providers admitted before a change, who hear that they no longer are.
    """
    providers = dict.fromkeys([*domain.provider_ids(agreement.content), *(removed or [])])
    tenant_ids = [buyer_id, *(p for p in providers if p != buyer_id)]
    envelope = envelope_for(
        event,
        source=SERVICE,
        subject=agreement.agreement_id,
        version=agreement.version,
        tenant_ids=tenant_ids,
    )
    await add_to_outbox(conn, SERVICE, envelope)


async def create_agreement(
    pool: asyncpg.Pool, principal: Principal, content: AgreementContent
) -> FrameworkAgreement:
    """A new draft agreement of the caller's (buyer) tenant."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        buyer_id = await _buyer(conn, principal)
        agreement = domain.new_agreement(new_id(), content)
        await _check_providers(conn, content)
        try:
            async with conn.transaction():
                await store.insert_agreement(conn, buyer_id, agreement)
        except asyncpg.UniqueViolationError:
            raise _number_taken() from None
    return agreement


async def list_agreements(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    cursor: str | None,
    limit: int,
    status: AgreementStatus | None = None,
) -> tuple[list[FrameworkAgreement], str | None]:
    after: uuid.UUID | None = decode_cursor(cursor, uuid.UUID)[0] if cursor else None
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        buyer_id = await _buyer(conn, principal, writes=False)
        rows = await store.list_agreements(conn, buyer_id, after=after, limit=limit + 1, status=status)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].agreement_id)


async def get_agreement(
    pool: asyncpg.Pool, principal: Principal, agreement_id: uuid.UUID
) -> FrameworkAgreement:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        buyer_id = await _buyer(conn, principal, writes=False)
        return await _agreement(conn, buyer_id, agreement_id, for_update=False)


async def _save(
    conn: asyncpg.Connection, buyer_id: uuid.UUID, before: FrameworkAgreement, after: FrameworkAgreement
) -> None:
    try:
        async with conn.transaction():
            saved = await store.update_agreement(conn, buyer_id, after, expected_version=before.version)
    except asyncpg.UniqueViolationError:
        raise _number_taken() from None
    if not saved:
        raise Conflict("changed by another request meanwhile; read it again and retry")


async def replace_agreement(
    pool: asyncpg.Pool,
    principal: Principal,
    agreement_id: uuid.UUID,
    content: AgreementContent,
    *,
    expected_version: int | None,
) -> FrameworkAgreement:
    """Replace a draft's content; of an active agreement only the price list and providers may change."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        buyer_id = await _buyer(conn, principal)
        agreement = await _agreement(conn, buyer_id, agreement_id)
        check_version(agreement.version, expected_version, what="agreement")
        changed = domain.change(agreement, content)
        if changed is agreement:
            return agreement
        await _check_providers(conn, content)
        await _save(conn, buyer_id, agreement, changed)
        if changed.status is AgreementStatus.ACTIVE:
            # Providers removed from the agreement hear of it too: the old ones are addressed as well.
            event = _facts(contracts.AgreementChanged, buyer_id, changed)
            await _announce(conn, buyer_id, changed, event, removed=domain.provider_ids(agreement.content))
    return changed


async def activate_agreement(
    pool: asyncpg.Pool, principal: Principal, agreement_id: uuid.UUID, *, expected_version: int | None
) -> FrameworkAgreement:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        buyer_id = await _buyer(conn, principal)
        agreement = await _agreement(conn, buyer_id, agreement_id)
        check_version(agreement.version, expected_version, what="agreement")
        activated = domain.activate(agreement)
        await _check_providers(conn, activated.content)
        await _save(conn, buyer_id, agreement, activated)
        await _announce(conn, buyer_id, activated, _facts(contracts.AgreementActivated, buyer_id, activated))
    return activated


async def end_agreement(
    pool: asyncpg.Pool, principal: Principal, agreement_id: uuid.UUID, *, expected_version: int | None
) -> FrameworkAgreement:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        buyer_id = await _buyer(conn, principal)
        agreement = await _agreement(conn, buyer_id, agreement_id)
        check_version(agreement.version, expected_version, what="agreement")
        ended = domain.end(agreement)
        await _save(conn, buyer_id, agreement, ended)
        event = contracts.AgreementEnded(agreement_id=ended.agreement_id, buyer_id=buyer_id)
        await _announce(conn, buyer_id, ended, event)
    return ended
