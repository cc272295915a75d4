"""Read-only routes over the orders service's read models of organisations' facts."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import get
from litestar.params import FromQuery

from services.orders import handlers
from services.orders.handlers import KnownCostCentre
from shared.auth.guards import requires_role
from shared.auth.principal import APPROVER, BUYER_ADMIN
from shared.http.dependencies import Caller, Pool
from shared.http.pagination import Page, PageSize

__all__ = ["CostCentreOut", "list_cost_centres"]


class CostCentreOut(msgspec.Struct, frozen=True, rename="camel"):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The cost centre's id")]
    code: Annotated[str, msgspec.Meta(description="The buyer's code for the cost centre (kustannuspaikka)")]
    name: Annotated[str, msgspec.Meta(description="The cost centre's name")]
    yearly_budget_cents: Annotated[
        int, msgspec.Meta(description="The yearly supervision budget, in euro cents")
    ]
    active: Annotated[bool, msgspec.Meta(description="Whether orders may be made on the cost centre")]
    approver_ids: Annotated[
        list[uuid.UUID], msgspec.Meta(description="The people who approve the cost centre's orders")
    ]


def _cost_centre(cost_centre: KnownCostCentre) -> CostCentreOut:
    return CostCentreOut(
        id=cost_centre.cost_centre_id,
        code=cost_centre.code,
        name=cost_centre.name,
        yearly_budget_cents=cost_centre.yearly_budget_cents,
        active=cost_centre.active,
        approver_ids=cost_centre.approver_ids,
    )


@get(
    "/cost-centres",
    operation_id="orders_listCostCentres",
    tags=["read models"],
    summary="The caller's tenant's cost centres and their approvers, as orders knows them",
    description="For the buyer's admins and approvers only, as organisations' own cost-centre route: "
    "budgets and approvers are not every employee's (nor a machine client's) to read.",
    guards=[requires_role(BUYER_ADMIN, APPROVER)],
)
async def list_cost_centres(
    pool: Pool,
    principal: Caller,
    cursor: FromQuery[str | None] = None,
    limit: PageSize = 50,
) -> Page[CostCentreOut]:
    rows, next_cursor = await handlers.list_cost_centres(pool, principal, cursor=cursor, limit=limit)
    return Page(items=[_cost_centre(row) for row in rows], next_cursor=next_cursor)
