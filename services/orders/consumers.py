"""Reactions of the orders service to other services' events."""

from __future__ import annotations

from services.orders import SERVICE, handlers
from shared.contracts.organisations import (
    ApproverAssigned,
    ApproverRemoved,
    CostCentreCreated,
    CostCentreDeactivated,
    CostCentreUpdated,
    PersonCreated,
    PersonDeactivated,
    PersonUpdated,
    SupervisorProfileCreated,
    SupervisorProfileUpdated,
    TenantCreated,
    TenantDeactivated,
    TenantUpdated,
)
from shared.contracts.sessions import SessionHeld
from shared.events.consumer import on
from shared.events.streams import ConsumerSpec
from shared.events.worker import Subscription
from shared.tenancy import tenant_subscription

__all__ = ["DIRECTORY_CONSUMER", "SUBSCRIPTIONS", "directory_subscription", "sessions_subscription"]

DIRECTORY_CONSUMER = f"{SERVICE}-directory"
"""Its durable is ``orders-directory__organisations``, apart from the tenant directory's."""


def directory_subscription(consumer: str = DIRECTORY_CONSUMER) -> Subscription:
    """Keeps the read models of cost centres, approvers, people, supervisors and providers current."""
    return Subscription(
        spec=ConsumerSpec(
            consumer=consumer,
            producer="organisations",
            filter_subjects=(
                "organisations.cost_centre.>",
                "organisations.person.>",
                "organisations.supervisor_profile.>",
                "organisations.tenant.>",
            ),
        ),
        handlers=[
            on(CostCentreCreated, handlers.apply_cost_centre_created),
            on(CostCentreUpdated, handlers.apply_cost_centre_updated),
            on(CostCentreDeactivated, handlers.apply_cost_centre_deactivated),
            on(ApproverAssigned, handlers.apply_approver_assigned),
            on(ApproverRemoved, handlers.apply_approver_removed),
            on(PersonCreated, handlers.apply_person_created),
            on(PersonUpdated, handlers.apply_person_updated),
            on(PersonDeactivated, handlers.apply_person_deactivated),
            on(SupervisorProfileCreated, handlers.apply_supervisor_created),
            on(SupervisorProfileUpdated, handlers.apply_supervisor_updated),
            on(TenantCreated, handlers.apply_tenant_facts),
            on(TenantUpdated, handlers.apply_tenant_facts),
            on(TenantDeactivated, handlers.apply_tenant_deactivated),
        ],
    )


def sessions_subscription(consumer: str = SERVICE) -> Subscription:
    """The first held session of an accepted order starts it (``orders__sessions``)."""
    return Subscription(
        spec=ConsumerSpec(consumer=consumer, producer="sessions", filter_subjects=(SessionHeld.event_type,)),
        handlers=[on(SessionHeld, handlers.apply_session_held)],
    )


SUBSCRIPTIONS: list[Subscription] = [
    tenant_subscription(SERVICE),
    directory_subscription(),
    sessions_subscription(),
]
