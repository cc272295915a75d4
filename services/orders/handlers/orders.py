"""Use cases of supervision orders: drafting, reading, and one handler per lifecycle transition.

The tenant comes from the token; the row of an order is shared by its buyer and, once offered, the
provider. Every transition goes through one helper: lock, check read permission (404), decide, check
If-Match (412), save, announce."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from services.orders import SERVICE, store
from services.orders.domain import agreements as domain
from services.orders.domain import orders as orders_domain
from services.orders.domain.agreements import FrameworkAgreement
from shared.auth.principal import Principal
from shared.contracts import orders as contracts
from shared.contracts.sessions import SessionHeld
from shared.db.tenant import tenant_transaction
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvariantViolated,
    NotFound,
    check_version,
    fields_at,
)
from shared.events import add_to_outbox, envelope_for
from shared.events.consumer import PermanentEventError
from shared.events.envelope import Envelope
from shared.http.idempotency import idempotent_request, remember, replay
from shared.http.pagination import decode_cursor, encode_cursor
from shared.ids import new_id
from shared.tenancy import fetch_known_tenant

__all__ = [
    "accept_conflict",
    "accept_order",
    "apply_session_held",
    "approve_extension",
    "approve_order",
    "assign_supervisor",
    "cancel_order",
    "complete_order",
    "create_order",
    "declare_conflict",
    "decline_order",
    "get_order",
    "interrupt_order",
    "list_orders",
    "offer_order",
    "reject_extension",
    "reject_order",
    "request_extension",
    "start_order",
    "submit_order",
]


# --- supervision orders (tenant from the token; the row is shared by buyer and offered provider) ---

HELSINKI = ZoneInfo("Europe/Helsinki")
ORDER_ROLES = frozenset(r.value for r in orders_domain.Role)


def _today() -> dt.date:
    return dt.datetime.now(HELSINKI).date()


async def _actor(conn: asyncpg.Connection, principal: Principal) -> orders_domain.Actor:
    """The caller as the order rules see them; a person's token carries their person id as ``sub``."""
    try:
        person_id = uuid.UUID(principal.subject)
    except ValueError:
        raise Forbidden("only people act on orders") from None
    return orders_domain.Actor(
        person_id=person_id,
        tenant_id=principal.tenant_id,
        roles=frozenset(orders_domain.Role(r) for r in principal.roles if r in ORDER_ROLES),
        approves_cost_centres=await store.approver_cost_centres(conn, principal.tenant_id, person_id),
    )


def _order_facts(
    cls: type[contracts.OrderFacts], order: orders_domain.Order, **extra: Any
) -> contracts.OrderFacts:
    terms = order.cancellation
    return cls(
        order_id=order.order_id,
        buyer_id=order.buyer_tenant_id,
        provider_id=order.provider_id,
        cost_centre_id=order.cost_centre_id,
        agreement_id=order.agreement_id,
        lot=order.lot,
        form=order.form.value,
        participants=list(order.participants),
        planned_sessions=order.planned_sessions,
        duration_minutes=order.duration_minutes,
        starts_on=order.starts_on,
        ends_on=order.ends_on,
        mode=order.mode.value,
        selection=order.selection.value,
        status=order.status.value,
        supervisor_id=order.supervisor_id,
        price=None if order.price is None else _price_fact(order.price),
        cancellation=None
        if terms is None
        else contracts.CancellationTermsFact(
            late_threshold_hours=terms.late_threshold_hours,
            late_cancellation_charge_percent=terms.late_cancellation_charge_percent,
            no_show_charge_percent=terms.no_show_charge_percent,
            illness_exempt=terms.illness_exempt,
        ),
        committed_cents=orders_domain.committed_cents(order),
        budget_overridden=order.budget_override is not None,
        declined_by_providers=list(order.declined_by_providers),
        price_list=[_price_fact(item) for item in order.price_list],
        payment_terms_days=order.payment_terms_days,
        agreement_number=order.agreement_number,
        order_number=order.order_number,
        **extra,
    )


def _price_fact(price: domain.PriceItem) -> contracts.PriceItemFact:
    return contracts.PriceItemFact(
        lot=price.lot,
        form=price.form.value,
        duration_minutes=price.duration_minutes,
        mode=price.mode.value,
        unit=price.unit.value,
        net_price_cents=price.net_price_cents,
        valid_from=price.valid_from,
    )


async def _announce_order(
    conn: asyncpg.Connection,
    transition: orders_domain.Transition,
    *,
    previous_provider: uuid.UUID,
    **extra: Any,
) -> None:
    """To the buyer, and to the provider once the order is offered to them. A provider who declined
    hears of a final decline; an offer passed on to the next-ranked provider is not theirs to see."""
    order = transition.order
    recipients = [order.buyer_tenant_id]
    if store.provider_tenant(order) is not None:
        recipients.append(order.provider_id)
    if transition.event is contracts.OrderDeclined and previous_provider != order.provider_id:
        recipients.append(previous_provider)
    tenant_ids = list(dict.fromkeys(recipients))
    event = _order_facts(transition.event, order, **extra)
    envelope = envelope_for(
        event,
        source=SERVICE,
        subject=order.order_id,
        version=order.version,
        tenant_ids=tenant_ids,
    )
    await add_to_outbox(conn, SERVICE, envelope)


async def create_order(
    pool: asyncpg.Pool,
    principal: Principal,
    draft: orders_domain.OrderDraft,
    *,
    idempotency_key: str | None,
    body_hash: str,
) -> orders_domain.Order:
    """A draft order of the caller's (buyer) tenant; a replayed key answers the stored order."""
    request = idempotent_request(principal, idempotency_key, body_hash)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        if (stored := await replay(conn, request, orders_domain.Order)) is not None:
            return stored
        tenant = await fetch_known_tenant(conn, principal.tenant_id)
        if tenant is None or tenant.kind != "buyer" or not tenant.active:
            raise Forbidden("only active buyer tenants order")
        actor = await _actor(conn, principal)
        with fields_at("body"):
            order = orders_domain.new_order(new_id(), principal.tenant_id, draft, actor)
        active = await store.active_people(conn, principal.tenant_id, draft.participants)
        if strangers := [p for p in draft.participants if p not in active]:
            raise InvariantViolated(
                f"{len(strangers)} participant(s) are not active people of the buyer",
                errors=[FieldError("body.participants", "not active people of the buyer")],
            )
        if await store.fetch_cost_centre_budget(conn, principal.tenant_id, draft.cost_centre_id) is None:
            raise InvariantViolated(
                "no such cost centre", errors=[FieldError("body.costCentreId", "no active cost centre")]
            )
        # A draft names only the buyer's own agreement and a provider it admits: an id from another
        # tenant (or none at all) is refused here, not stored to fail at approval.
        agreement = await store.fetch_agreement(conn, principal.tenant_id, draft.agreement_id)
        if agreement is None:
            raise InvariantViolated(
                "no such agreement", errors=[FieldError("body.agreementId", "no agreement of the buyer")]
            )
        if draft.provider_id not in domain.provider_ids(agreement.content):
            raise InvariantViolated(
                "the provider is not admitted to the agreement",
                errors=[FieldError("body.providerId", "not admitted to the agreement")],
            )
        with fields_at("body"):  # a duration the price list lacks: refused now
            orders_domain.check_priced(draft, agreement)
        year = _today().year  # of creation, in Helsinki; the counter row is locked from here to commit
        number = orders_domain.order_number(
            year, await store.next_order_number(conn, order.buyer_tenant_id, year)
        )
        order = msgspec.structs.replace(order, order_number=number)
        await store.insert_order(conn, order)
        await remember(conn, request, order)
    return order


async def get_order(pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID) -> orders_domain.Order:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        order = await store.fetch_order(conn, order_id)
        actor = await _actor(conn, principal)
        if order is None or not orders_domain.can_read(order, actor):
            raise NotFound("order not found")
    return orders_domain.seen_by(order, actor)


async def list_orders(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    cursor: str | None,
    limit: int,
    status: orders_domain.OrderStatus | None = None,
    cost_centre_id: uuid.UUID | None = None,
    supervisor_id: uuid.UUID | None = None,
    period_from: dt.date | None = None,
    period_to: dt.date | None = None,
) -> tuple[list[orders_domain.Order], str | None]:
    """Orders the caller may read, by id; filtering after the query, so a page may hold fewer.

    The period filter keeps orders whose period overlaps ``period_from``–``period_to`` (either open).
    """
    if period_from is not None and period_to is not None and period_to < period_from:
        raise InvariantViolated(
            "the period ends before it starts",
            errors=[FieldError("query.periodTo", "must not be before periodFrom")],
        )
    after: uuid.UUID | None = decode_cursor(cursor, uuid.UUID)[0] if cursor else None
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        actor = await _actor(conn, principal)
        rows = await store.list_orders(
            conn,
            after=after,
            limit=limit + 1,
            status=status,
            cost_centre_id=cost_centre_id,
            supervisor_id=supervisor_id,
            period_from=period_from,
            period_to=period_to,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    readable = [orders_domain.seen_by(order, actor) for order in rows if orders_domain.can_read(order, actor)]
    return readable, encode_cursor(rows[-1].order_id) if more else None


async def _approval_facts(
    conn: asyncpg.Connection, order: orders_domain.Order
) -> tuple[FrameworkAgreement, int]:
    """The agreement and the cost centre's budget room left by its other orders (the buyer's tenant)."""
    agreement = await store.fetch_agreement(conn, order.buyer_tenant_id, order.agreement_id)
    if agreement is None:
        raise InvariantViolated("no such agreement", errors=[FieldError("order.agreementId", "not found")])
    budget = await store.fetch_cost_centre_budget(conn, order.buyer_tenant_id, order.cost_centre_id)
    if budget is None:
        raise InvariantViolated(
            "no such cost centre", errors=[FieldError("order.costCentreId", "no active cost centre")]
        )
    committed = await store.committed_on_cost_centre(
        conn,
        order.buyer_tenant_id,
        order.cost_centre_id,
        year=order.starts_on.year,
        other_than=order.order_id,
    )
    return agreement, budget - committed


Decide = Callable[
    [asyncpg.Connection, orders_domain.Order, orders_domain.Actor], Awaitable[orders_domain.Transition]
]
"""A transition's rules: the order (locked, readable by the caller) and the caller decide the move."""

EventFacts = Callable[[orders_domain.Order, orders_domain.Transition], dict[str, object]]
"""What a transition's event says beyond the order's facts, of the order before and the move."""


def _rule(
    rule: Callable[[orders_domain.Order, orders_domain.Actor], orders_domain.Transition],
) -> Decide:
    """A transition decided by the order rules alone."""

    async def decide(
        conn: asyncpg.Connection, order: orders_domain.Order, actor: orders_domain.Actor
    ) -> orders_domain.Transition:
        return rule(order, actor)

    return decide


def _no_facts(order: orders_domain.Order, transition: orders_domain.Transition) -> dict[str, object]:
    return {}


async def _transition(
    pool: asyncpg.Pool,
    principal: Principal,
    order_id: uuid.UUID,
    decide: Decide,
    *,
    expected_version: int | None,
    facts: EventFacts = _no_facts,
) -> orders_domain.Order:
    """Lock, check read permission, decide, check the version, save, announce: one lifecycle
    transition by the caller, writing the order and its event, or nothing."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        order = await store.fetch_order(conn, order_id, for_update=True)
        actor = await _actor(conn, principal)
        # Read permission first, then the rules, then the version: whoever may not read the order
        # hears what a random id answers, never its version or state.
        if order is None or not orders_domain.can_read(order, actor):
            raise NotFound("order not found")
        with fields_at("order"):
            transition = await decide(conn, order, actor)
        # After the rules (RFC 9110 §13.2.1: a 403 or 422 the request would get anyway comes before
        # 412), so a caller who may not act learns nothing of the order's version.
        check_version(order.version, expected_version, what="order")
        if transition.order == order:
            # nothing changed (the same supervisor again, an acceptance repeated)
            return orders_domain.seen_by(order, actor)
        if transition.order.provider_id != order.provider_id:
            # A declined ranking offer passed on: a write the declining provider makes of a row it
            # will no longer see, through the one narrow database function that allows it.
            saved = await store.pass_offer(conn, transition.order, expected_version=order.version)
        else:
            saved = await store.update_order(conn, transition.order, expected_version=order.version)
        if not saved:
            raise Conflict("changed by another request meanwhile; read it again and retry")
        extra = facts(order, transition)
        await _announce_order(conn, transition, previous_provider=order.provider_id, **extra)
    return orders_domain.seen_by(transition.order, actor)


async def submit_order(
    pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID, *, expected_version: int | None
) -> orders_domain.Order:
    """The orderer submits a draft for approval."""
    return await _transition(
        pool, principal, order_id, _rule(orders_domain.submit), expected_version=expected_version
    )


async def approve_order(
    pool: asyncpg.Pool,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    override_reason: str | None,
    expected_version: int | None,
) -> orders_domain.Order:
    """An approver of the cost centre approves: the price and terms are snapshotted, the budget checked."""

    async def decide(
        conn: asyncpg.Connection, order: orders_domain.Order, actor: orders_domain.Actor
    ) -> orders_domain.Transition:
        agreement, room = await _approval_facts(conn, order)
        return orders_domain.approve(
            order,
            actor,
            agreement=agreement,
            today=_today(),
            budget_room_cents=room,
            override_reason=override_reason,
        )

    return await _transition(pool, principal, order_id, decide, expected_version=expected_version)


async def reject_order(
    pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID, *, expected_version: int | None
) -> orders_domain.Order:
    return await _transition(
        pool, principal, order_id, _rule(orders_domain.reject), expected_version=expected_version
    )


async def offer_order(
    pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID, *, expected_version: int | None
) -> orders_domain.Order:
    return await _transition(
        pool, principal, order_id, _rule(orders_domain.offer), expected_version=expected_version
    )


async def declare_conflict(
    pool: asyncpg.Pool,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    related_participants: frozenset[uuid.UUID],
    expected_version: int | None,
) -> orders_domain.Order:
    """The supervisor declares prior relationships; the event counts them, never names them."""

    async def decide(
        conn: asyncpg.Connection, order: orders_domain.Order, actor: orders_domain.Actor
    ) -> orders_domain.Transition:
        return orders_domain.declare_conflict(order, actor, related_participants)

    def facts(order: orders_domain.Order, transition: orders_domain.Transition) -> dict[str, object]:
        return {"related_participant_count": len(related_participants)}

    return await _transition(
        pool, principal, order_id, decide, expected_version=expected_version, facts=facts
    )


async def accept_order(
    pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID, *, expected_version: int | None
) -> orders_domain.Order:
    return await _transition(
        pool, principal, order_id, _rule(orders_domain.accept), expected_version=expected_version
    )


async def assign_supervisor(
    pool: asyncpg.Pool,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    supervisor_id: uuid.UUID,
    expected_version: int | None,
) -> orders_domain.Order:
    """The provider's admin names a supervisor from the provider's own profiles (its tenant scope)."""

    async def decide(
        conn: asyncpg.Connection, order: orders_domain.Order, actor: orders_domain.Actor
    ) -> orders_domain.Transition:
        if actor.tenant_id != order.provider_id:
            raise Forbidden("only the provider the order is offered to assigns its supervisor")
        kinds = await store.supervisor_qualifications(conn, actor.tenant_id, supervisor_id)
        if kinds is None:
            raise InvariantViolated(
                "no such supervisor",
                errors=[FieldError("body.supervisorId", "not a known supervisor of this provider")],
            )
        known = {k.value for k in domain.QualificationKind}
        qualifications = frozenset(domain.QualificationKind(k) for k in kinds if k in known)
        with fields_at("body"):
            return orders_domain.assign_supervisor(
                order, actor, supervisor_id=supervisor_id, supervisor_qualifications=qualifications
            )

    return await _transition(pool, principal, order_id, decide, expected_version=expected_version)


async def accept_conflict(
    pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID, *, expected_version: int | None
) -> orders_domain.Order:
    """An approver of the cost centre or an affected participant accepts a declared conflict."""

    async def decide(
        conn: asyncpg.Connection, order: orders_domain.Order, actor: orders_domain.Actor
    ) -> orders_domain.Transition:
        return orders_domain.accept_conflict(order, actor, now=dt.datetime.now(dt.UTC))

    def facts(order: orders_domain.Order, transition: orders_domain.Transition) -> dict[str, object]:
        # Only a changed order is announced, and a change adds an acceptance: the latest is this one.
        latest = transition.order.conflict.acceptances[-1]
        return {"accepted_by": latest.by, "accepted_as": latest.party, "accepted_at": latest.at}

    return await _transition(
        pool, principal, order_id, decide, expected_version=expected_version, facts=facts
    )


async def decline_order(
    pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID, *, expected_version: int | None
) -> orders_domain.Order:
    """The provider declines; under ranking the next provider comes from the lot snapshotted at approval."""

    async def decide(
        conn: asyncpg.Connection, order: orders_domain.Order, actor: orders_domain.Actor
    ) -> orders_domain.Transition:
        if not orders_domain.can_decline(order, actor):
            raise Forbidden("only the provider the order is offered to declines it")
        return orders_domain.decline(order, actor)

    return await _transition(pool, principal, order_id, decide, expected_version=expected_version)


async def start_order(
    pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID, *, expected_version: int | None
) -> orders_domain.Order:
    return await _transition(
        pool, principal, order_id, _rule(orders_domain.start), expected_version=expected_version
    )


async def complete_order(
    pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID, *, expected_version: int | None
) -> orders_domain.Order:
    return await _transition(
        pool, principal, order_id, _rule(orders_domain.complete), expected_version=expected_version
    )


async def interrupt_order(
    pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID, *, expected_version: int | None
) -> orders_domain.Order:
    return await _transition(
        pool, principal, order_id, _rule(orders_domain.interrupt), expected_version=expected_version
    )


async def cancel_order(
    pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID, *, expected_version: int | None
) -> orders_domain.Order:
    return await _transition(
        pool, principal, order_id, _rule(orders_domain.cancel), expected_version=expected_version
    )


async def request_extension(
    pool: asyncpg.Pool,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    additional_sessions: int,
    expected_version: int | None,
) -> orders_domain.Order:
    """More sessions asked for; they count once an approver approves."""

    async def decide(
        conn: asyncpg.Connection, order: orders_domain.Order, actor: orders_domain.Actor
    ) -> orders_domain.Transition:
        with fields_at("body"):
            return orders_domain.request_extension(order, actor, additional_sessions)

    def facts(order: orders_domain.Order, transition: orders_domain.Transition) -> dict[str, object]:
        return {"additional_sessions": additional_sessions}

    return await _transition(
        pool, principal, order_id, decide, expected_version=expected_version, facts=facts
    )


async def approve_extension(
    pool: asyncpg.Pool,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    override_reason: str | None,
    expected_version: int | None,
) -> orders_domain.Order:
    """A new approval of the pending sessions: the room left after every approved order, this one too."""

    async def decide(
        conn: asyncpg.Connection, order: orders_domain.Order, actor: orders_domain.Actor
    ) -> orders_domain.Transition:
        if order.pending_extension is None:
            raise orders_domain.WrongState("no extension is pending")
        if not orders_domain.can_approve(order, actor):
            raise orders_domain.NotAllowed(
                "only an approver of the order's cost centre approves an extension"
            )
        agreement, room = await _approval_facts(conn, order)
        room -= orders_domain.committed_cents(order) or 0
        return orders_domain.approve_extension(
            order,
            actor,
            agreement=agreement,
            today=_today(),
            budget_room_cents=room,
            override_reason=override_reason,
        )

    def facts(order: orders_domain.Order, transition: orders_domain.Transition) -> dict[str, object]:
        pending = order.pending_extension
        return {"additional_sessions": pending.additional_sessions if pending else 0}

    return await _transition(
        pool, principal, order_id, decide, expected_version=expected_version, facts=facts
    )


async def reject_extension(
    pool: asyncpg.Pool, principal: Principal, order_id: uuid.UUID, *, expected_version: int | None
) -> orders_domain.Order:
    return await _transition(
        pool, principal, order_id, _rule(orders_domain.reject_extension), expected_version=expected_version
    )


async def apply_session_held(conn: asyncpg.Connection, envelope: Envelope, held: SessionHeld) -> None:
    """The first held session of an accepted order starts it (``OrderStarted`` naming the session);
    later sessions, and a redelivery (the inbox drops it anyway), change nothing."""
    order = await store.fetch_order(conn, held.order_id, for_update=True)
    if order is None or order.buyer_tenant_id != held.buyer_id:
        raise PermanentEventError("a held session of an order orders does not know")
    transition = orders_domain.start_by_session(order)
    if transition is None:
        return
    if not await store.update_order(conn, transition.order, expected_version=order.version):
        raise Conflict("changed meanwhile")  # pragma: no cover - the row is locked; retried anyway
    await _announce_order(conn, transition, previous_provider=order.provider_id, session_id=held.session_id)
