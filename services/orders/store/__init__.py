"""The orders service's SQL: one function per query, each on a connection inside a tenant transaction.

One module per sub-domain (agreements, orders, read_models); the public names are re-exported here."""

from __future__ import annotations

from services.orders.store.agreements import (
    fetch_agreement,
    insert_agreement,
    list_agreements,
    update_agreement,
)
from services.orders.store.orders import (
    committed_on_cost_centre,
    fetch_order,
    insert_order,
    list_orders,
    next_order_number,
    pass_offer,
    provider_tenant,
    update_order,
)
from services.orders.store.read_models import (
    KnownCostCentre,
    active_people,
    approver_cost_centres,
    deactivate_cost_centre,
    deactivate_person,
    deactivate_provider,
    fetch_active_providers,
    fetch_cost_centre_budget,
    fetch_cost_centre_version,
    fetch_person_version,
    fetch_supervisor_version,
    list_cost_centres,
    supervisor_qualifications,
    upsert_cost_centre,
    upsert_person,
    upsert_provider,
    upsert_supervisor,
)

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
    "next_order_number",
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
