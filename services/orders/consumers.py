"""Reactions of the orders service to other services' events."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Protocol, TypeVar

import asyncpg

from services.orders import SERVICE, handlers
from shared.contracts import Event
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
from shared.events.consumer import EventHandler
from shared.events.envelope import Envelope
from shared.events.streams import ConsumerSpec
from shared.events.worker import Subscription
from shared.tenancy import tenant_subscription

__all__ = ["DIRECTORY_CONSUMER", "SUBSCRIPTIONS", "directory_subscription", "sessions_subscription"]

DIRECTORY_CONSUMER = f"{SERVICE}-directory"
"""Its durable is ``orders-directory__organisations``, apart from the tenant directory's."""


E = TypeVar("E", bound=Event)
E_contra = TypeVar("E_contra", bound=Event, contravariant=True)


class _Apply(Protocol[E_contra]):
    def __call__(
        self, conn: asyncpg.Connection, tenant_id: uuid.UUID, event: E_contra, *, version: int
    ) -> Awaitable[None]: ...


def _handler(cls: type[E], apply: _Apply[E]) -> tuple[str, EventHandler]:
    """Decode the envelope as ``cls`` and apply it to the envelope's tenant at its aggregate version."""

    async def handle(conn: asyncpg.Connection, envelope: Envelope) -> None:
        await apply(conn, envelope.tenant_ids[0], envelope.event_as(cls), version=envelope.version)

    return cls.event_type, handle


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
        handlers=dict(
            [
                _handler(CostCentreCreated, handlers.apply_cost_centre_created),
                _handler(CostCentreUpdated, handlers.apply_cost_centre_updated),
                _handler(CostCentreDeactivated, handlers.apply_cost_centre_deactivated),
                _handler(ApproverAssigned, handlers.apply_approver_assigned),
                _handler(ApproverRemoved, handlers.apply_approver_removed),
                _handler(PersonCreated, handlers.apply_person_created),
                _handler(PersonUpdated, handlers.apply_person_updated),
                _handler(PersonDeactivated, handlers.apply_person_deactivated),
                _handler(SupervisorProfileCreated, handlers.apply_supervisor_created),
                _handler(SupervisorProfileUpdated, handlers.apply_supervisor_updated),
                _handler(TenantCreated, handlers.apply_tenant_facts),
                _handler(TenantUpdated, handlers.apply_tenant_facts),
                _handler(TenantDeactivated, handlers.apply_tenant_deactivated),
            ]
        ),
    )


def sessions_subscription(consumer: str = SERVICE) -> Subscription:
    """The first held session of an accepted order starts it (``orders__sessions``)."""
    return Subscription(
        spec=ConsumerSpec(consumer=consumer, producer="sessions", filter_subjects=(SessionHeld.event_type,)),
        handlers={SessionHeld.event_type: handlers.apply_session_held},
    )


SUBSCRIPTIONS: list[Subscription] = [
    tenant_subscription(SERVICE),
    directory_subscription(),
    sessions_subscription(),
]
