"""Reactions of the sessions service to other services' events."""

from __future__ import annotations

from services.sessions import SERVICE
from services.sessions.handlers import processes
from shared.approvers import APPROVER_HANDLERS
from shared.contracts.orders import (
    OrderAccepted,
    OrderCancelled,
    OrderCompleted,
    OrderExtended,
    OrderInterrupted,
)
from shared.contracts.organisations import ApproverAssigned, ApproverRemoved
from shared.events.consumer import on
from shared.events.streams import ConsumerSpec
from shared.events.worker import Subscription
from shared.tenancy import tenant_subscription

__all__ = [
    "DIRECTORY_CONSUMER",
    "ORDERS_CONSUMER",
    "SUBSCRIPTIONS",
    "directory_subscription",
    "orders_subscription",
]

ORDERS_CONSUMER = SERVICE
"""Its durable is ``sessions__orders``."""

_CLOSING = (OrderCompleted, OrderInterrupted, OrderCancelled)


def orders_subscription(consumer: str = ORDERS_CONSUMER) -> Subscription:
    """Opens a process when an order is accepted, raises its count on an extension, closes it."""
    return Subscription(
        spec=ConsumerSpec(
            consumer=consumer,
            producer="orders",
            filter_subjects=tuple(cls.event_type for cls in (OrderAccepted, OrderExtended, *_CLOSING)),
        ),
        handlers=[
            on(OrderAccepted, processes.apply_order_accepted),
            on(OrderExtended, processes.apply_order_extended),
            *(on(cls, processes.apply_order_closed) for cls in _CLOSING),
        ],
    )


DIRECTORY_CONSUMER = f"{SERVICE}-directory"
"""Its durable is ``sessions-directory__organisations``, apart from the tenant directory's
``sessions__organisations`` (which filters the tenant events only)."""


def directory_subscription(consumer: str = DIRECTORY_CONSUMER) -> Subscription:
    """Keeps which cost centres each approver holds: an approver sees those processes only."""
    return Subscription(
        spec=ConsumerSpec(
            consumer=consumer,
            producer="organisations",
            filter_subjects=(ApproverAssigned.event_type, ApproverRemoved.event_type),
        ),
        handlers=APPROVER_HANDLERS,
    )


SUBSCRIPTIONS: list[Subscription] = [
    tenant_subscription(SERVICE),
    orders_subscription(),
    directory_subscription(),
]
