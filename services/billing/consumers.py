"""Reactions of the billing service to other services' events.

Three durables: ``billing__organisations`` (the tenant directory, the parties' invoicing facts,
cost centres and their approvers), ``billing__orders`` (orders: agreement number, payment terms)
and ``billing__sessions`` (held, cancelled and no-show sessions become billable items).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import asyncpg

from services.billing import SERVICE, handlers
from shared.contracts import Event
from shared.contracts.orders import (
    OrderAccepted,
    OrderApproved,
    OrderCancelled,
    OrderCompleted,
    OrderConflictAccepted,
    OrderConflictDeclared,
    OrderDeclined,
    OrderExtended,
    OrderExtensionRejected,
    OrderExtensionRequested,
    OrderFacts,
    OrderInterrupted,
    OrderOffered,
    OrderRejected,
    OrderStarted,
    OrderSubmitted,
    OrderSupervisorAssigned,
)
from shared.contracts.organisations import (
    ApproverAssigned,
    ApproverRemoved,
    CostCentreCreated,
    CostCentreUpdated,
    TenantCreated,
    TenantUpdated,
)
from shared.contracts.sessions import SessionCancelled, SessionHeld, SessionNoShow
from shared.events.consumer import EventHandler
from shared.events.envelope import Envelope
from shared.events.streams import ConsumerSpec
from shared.events.worker import Subscription
from shared.tenancy import tenant_subscription

__all__ = [
    "SUBSCRIPTIONS",
    "orders_subscription",
    "organisations_subscription",
    "sessions_subscription",
]

E = TypeVar("E", bound=Event)


def _per_tenant(
    cls: type[E], apply: Callable[[asyncpg.Connection, uuid.UUID, E, int], Awaitable[None]]
) -> tuple[str, EventHandler]:
    async def handle(conn: asyncpg.Connection, envelope: Envelope) -> None:
        await apply(conn, envelope.tenant_ids[0], envelope.event_as(cls), envelope.version)

    return cls.event_type, handle


def _then(first: EventHandler | None, second: EventHandler) -> EventHandler:
    async def both(conn: asyncpg.Connection, envelope: Envelope) -> None:
        if first is not None:
            await first(conn, envelope)
        await second(conn, envelope)

    return both


def organisations_subscription() -> Subscription:
    """The tenant directory (shared.tenancy) plus billing's own read models of organisations."""
    directory = tenant_subscription(SERVICE)
    assert isinstance(directory.handlers, Mapping)
    own: dict[str, EventHandler] = dict(
        [
            _per_tenant(TenantCreated, handlers.apply_tenant_facts),
            _per_tenant(TenantUpdated, handlers.apply_tenant_facts),
            _per_tenant(CostCentreCreated, handlers.apply_cost_centre),
            _per_tenant(CostCentreUpdated, handlers.apply_cost_centre),
            _per_tenant(ApproverAssigned, handlers.apply_approver_assigned),
            _per_tenant(ApproverRemoved, handlers.apply_approver_removed),
        ]
    )
    combined: dict[str, EventHandler] = dict(directory.handlers)
    for event_type, handler in own.items():
        combined[event_type] = _then(directory.handlers.get(event_type), handler)
    return Subscription(
        spec=ConsumerSpec(
            consumer=SERVICE,
            producer="organisations",
            filter_subjects=("organisations.tenant.>", "organisations.cost_centre.>"),
        ),
        handlers=combined,
    )


_ORDER_EVENTS: tuple[type[OrderFacts], ...] = (
    OrderSubmitted,
    OrderApproved,
    OrderRejected,
    OrderOffered,
    OrderConflictDeclared,
    OrderSupervisorAssigned,
    OrderConflictAccepted,
    OrderAccepted,
    OrderDeclined,
    OrderStarted,
    OrderCompleted,
    OrderInterrupted,
    OrderCancelled,
    OrderExtensionRequested,
    OrderExtended,
    OrderExtensionRejected,
)


def _order_handler(cls: type[OrderFacts]) -> tuple[str, EventHandler]:
    async def handle(conn: asyncpg.Connection, envelope: Envelope) -> None:
        await handlers.apply_order(conn, envelope.tenant_ids, envelope.event_as(cls), envelope.version)

    return cls.event_type, handle


def orders_subscription() -> Subscription:
    return Subscription(
        spec=ConsumerSpec(consumer=SERVICE, producer="orders", filter_subjects=("orders.order.>",)),
        handlers=dict(_order_handler(cls) for cls in _ORDER_EVENTS),
    )


def _session_handler(
    cls: type[SessionHeld] | type[SessionCancelled] | type[SessionNoShow],
) -> tuple[str, EventHandler]:
    async def handle(conn: asyncpg.Connection, envelope: Envelope) -> None:
        await handlers.apply_session(conn, envelope.tenant_ids, envelope.event_as(cls))

    return cls.event_type, handle


def sessions_subscription() -> Subscription:
    return Subscription(
        spec=ConsumerSpec(
            consumer=SERVICE,
            producer="sessions",
            filter_subjects=(
                SessionHeld.event_type,
                SessionCancelled.event_type,
                SessionNoShow.event_type,
            ),
        ),
        handlers=dict(_session_handler(cls) for cls in (SessionHeld, SessionCancelled, SessionNoShow)),
    )


SUBSCRIPTIONS: list[Subscription] = [
    organisations_subscription(),
    orders_subscription(),
    sessions_subscription(),
]
