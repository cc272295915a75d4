"""Use cases inside a tenant: org units, cost centres and their approvers, people, supervisor profiles.

The tenant is always the caller's own (``principal.tenant_id``), so another tenant's ids are
simply not found. Each use case is one transaction; its events go to the outbox in it.
"""

from __future__ import annotations

from services.organisations.handlers.directory.people import (
    create_person,
    create_supervisor_profile,
    deactivate_person_by_id,
    get_own_person,
    get_own_supervisor_profile,
    get_person,
    get_supervisor_profile,
    list_people,
    list_supervisor_profiles,
    set_own_availability,
    update_person,
    update_supervisor_profile,
)
from services.organisations.handlers.directory.units import (
    assign_approver,
    create_cost_centre,
    create_org_unit,
    deactivate_cost_centre_by_id,
    delete_org_unit,
    get_cost_centre,
    get_org_unit,
    list_approvers,
    list_cost_centres,
    list_org_units,
    remove_approver,
    update_cost_centre,
    update_org_unit,
)

__all__ = [
    "assign_approver",
    "create_cost_centre",
    "create_org_unit",
    "create_person",
    "create_supervisor_profile",
    "deactivate_cost_centre_by_id",
    "deactivate_person_by_id",
    "delete_org_unit",
    "get_cost_centre",
    "get_org_unit",
    "get_own_person",
    "get_own_supervisor_profile",
    "get_person",
    "get_supervisor_profile",
    "list_approvers",
    "list_cost_centres",
    "list_org_units",
    "list_people",
    "list_supervisor_profiles",
    "remove_approver",
    "set_own_availability",
    "update_cost_centre",
    "update_org_unit",
    "update_person",
    "update_supervisor_profile",
]
