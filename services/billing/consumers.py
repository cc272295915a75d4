"""Reactions of the billing service to other services' events.

Three durables: ``billing__organisations`` (the tenant directory, the parties' invoicing facts,
cost centres and their approvers), ``billing__orders`` (orders: agreement number, payment terms)
and ``billing__sessions`` (held, cancelled and no-show sessions become billable items).
"""

from __future__ import annotations

from services.billing import SERVICE, handlers
from shared.approvers import APPROVER_HANDLERS
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
    CostCentreCreated,
    CostCentreUpdated,
    TenantCreated,
    TenantUpdated,
)
from shared.contracts.sessions import SessionCancelled, SessionHeld, SessionNoShow
from shared.events.consumer import on
from shared.events.streams import ConsumerSpec
from shared.events.worker import Subscription
from shared.tenancy import TENANT_HANDLERS

__all__ = [
    "SUBSCRIPTIONS",
    "orders_subscription",
    "organisations_subscription",
    "sessions_subscription",
]


def organisations_subscription() -> Subscription:
    """The tenant directory (shared.tenancy) plus billing's own read models of organisations."""
    return Subscription(
        spec=ConsumerSpec(
            consumer=SERVICE,
            producer="organisations",
            filter_subjects=("organisations.tenant.>", "organisations.cost_centre.>"),
        ),
        handlers=[
            *TENANT_HANDLERS,
            on(TenantCreated, handlers.apply_tenant_facts),
            on(TenantUpdated, handlers.apply_tenant_facts),
            on(CostCentreCreated, handlers.apply_cost_centre),
            on(CostCentreUpdated, handlers.apply_cost_centre),
            *APPROVER_HANDLERS,
        ],
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


def orders_subscription() -> Subscription:
    return Subscription(
        spec=ConsumerSpec(consumer=SERVICE, producer="orders", filter_subjects=("orders.order.>",)),
        handlers=[on(cls, handlers.apply_order) for cls in _ORDER_EVENTS],
    )


_SESSION_EVENTS = (SessionHeld, SessionCancelled, SessionNoShow)


def sessions_subscription() -> Subscription:
    return Subscription(
        spec=ConsumerSpec(
            consumer=SERVICE,
            producer="sessions",
            filter_subjects=tuple(cls.event_type for cls in _SESSION_EVENTS),
        ),
        handlers=[
            on(SessionHeld, handlers.apply_session),
            on(SessionCancelled, handlers.apply_session),
            on(SessionNoShow, handlers.apply_session),
        ],
    )


SUBSCRIPTIONS: list[Subscription] = [
    organisations_subscription(),
    orders_subscription(),
    sessions_subscription(),
]
