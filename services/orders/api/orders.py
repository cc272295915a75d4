"""Supervision orders over HTTP: the buyer orders, approves and offers; the provider accepts or declines.

Every route acts as the caller's tenant (from the token). The row of an order is shared by its
buyer and, once offered, the provider: another tenant's order ids, and orders a colleague may not
read, answer 404 on every route — read permission first, then If-Match, then state. Creating takes an
``Idempotency-Key`` (the same key and body answer the same response; another body 422);
transitions take ``If-Match`` (a stale ETag is refused with 412). The rules are the domain's
(``services.orders.domain.orders``): 403 for role or relationship, 422 naming the field, 409 for
the wrong state.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from services.orders import handlers
from services.orders.api.agreements import CancellationBody, PriceItemBody
from services.orders.domain.agreements import DeliveryMode, PriceItem, SupervisionForm
from services.orders.domain.orders import Order, OrderDraft, OrderStatus, SelectionMethod
from shared.auth.guards import requires_role
from shared.auth.principal import APPROVER, BUYER_ADMIN, EMPLOYEE, PROVIDER_ADMIN, SUPERVISOR, Principal
from shared.http.dependencies import Caller, Pool
from shared.http.idempotency import IdempotencyKey, request_hash
from shared.http.pagination import Page, PageSize
from shared.http.versions import IfMatch, expected_version, versioned

__all__ = [
    "ApproveBody",
    "AssignSupervisorBody",
    "ConflictAcceptanceOut",
    "DeclareConflictBody",
    "ExtensionBody",
    "OrderBody",
    "OrderController",
    "OrderOut",
]


ORDERERS = [requires_role(APPROVER, EMPLOYEE)]
APPROVERS = [requires_role(APPROVER)]
PROVIDERS = [requires_role(PROVIDER_ADMIN, SUPERVISOR)]
SUPERVISORS = [requires_role(SUPERVISOR)]
PROVIDER_ADMINS = [requires_role(PROVIDER_ADMIN)]
CONFLICT_ACCEPTORS = [requires_role(APPROVER, EMPLOYEE)]
PARTIES = [requires_role(APPROVER, PROVIDER_ADMIN, SUPERVISOR)]
"""Start, complete, interrupt: either side of the order."""
CANCELLERS = [requires_role(APPROVER, EMPLOYEE)]
EXTENSION_REQUESTERS = [requires_role(APPROVER, EMPLOYEE, PROVIDER_ADMIN, SUPERVISOR)]
READERS = [requires_role(BUYER_ADMIN, APPROVER, EMPLOYEE, PROVIDER_ADMIN, SUPERVISOR)]


Text = Annotated[str, msgspec.Meta(max_length=2000)]


class _Body(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    pass


class OrderBody(_Body, frozen=True, kw_only=True):
    """What the orderer writes."""

    cost_centre_id: Annotated[
        uuid.UUID, msgspec.Meta(description="The buyer's cost centre that pays for the supervision")
    ]
    agreement_id: Annotated[
        uuid.UUID, msgspec.Meta(description="The framework agreement the order is made under")
    ]
    lot: Annotated[
        Annotated[str, msgspec.Meta(max_length=1000)],
        msgspec.Meta(description="The agreement lot the order falls in"),
    ]
    form: Annotated[
        SupervisionForm, msgspec.Meta(description="The supervision form (individual, group, team, …)")
    ]
    participants: Annotated[
        Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=50)],
        msgspec.Meta(description="The people (directory ids) who take part in the supervision"),
    ]
    planned_sessions: Annotated[int, msgspec.Meta(description="How many sessions are ordered")]
    duration_minutes: Annotated[
        Annotated[int, msgspec.Meta(ge=1, le=480)],
        msgspec.Meta(description="How long one session is, in minutes (1–480)"),
    ]
    starts_on: Annotated[dt.date, msgspec.Meta(description="The first day of the supervision period")]
    ends_on: Annotated[dt.date, msgspec.Meta(description="The last day of the supervision period")]
    mode: Annotated[
        DeliveryMode, msgspec.Meta(description="How the sessions are delivered (on site, remote, …)")
    ]
    selection: Annotated[
        SelectionMethod,
        msgspec.Meta(description="How the provider is chosen: by ranking, by justified direct choice, …"),
    ]
    justification: Annotated[
        Text | None,
        msgspec.Meta(
            description=(
                "Why this provider was chosen when the selection calls for a reason; only the buyer sees it"
            )
        ),
    ] = None
    provider_id: Annotated[uuid.UUID, msgspec.Meta(description="The provider (tenant id) the order goes to")]
    supervisor_id: Annotated[
        uuid.UUID | None,
        msgspec.Meta(
            description="The supervisor the orderer wishes for; the provider assigns the actual one"
        ),
    ] = None


class ApproveBody(_Body, frozen=True, kw_only=True):
    override_reason: Annotated[
        Text | None, msgspec.Meta(description="Approve beyond the cost centre's budget room (audited).")
    ] = None


class DeclareConflictBody(_Body, frozen=True, kw_only=True):
    related_participants: Annotated[
        list[uuid.UUID],
        msgspec.Meta(description="The participants the supervisor has a conflict of interest with"),
    ] = []


class AssignSupervisorBody(_Body, frozen=True, kw_only=True):
    supervisor_id: Annotated[
        uuid.UUID, msgspec.Meta(description="The provider's supervisor (person id) who will supervise")
    ]


class ExtensionBody(_Body, frozen=True, kw_only=True):
    additional_sessions: Annotated[
        int,
        msgspec.Meta(
            description="How many sessions to add; they count once an approver approves the extension."
        ),
    ]


class ConflictAcceptanceOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    by: Annotated[
        uuid.UUID | None,
        msgspec.Meta(
            description="Who accepted; null for a participant whose participation is hidden from the caller"
        ),
    ]
    party: Annotated[
        Literal["approver", "participant"], msgspec.Meta(description="As whom they accepted the conflict")
    ]
    at: Annotated[dt.datetime, msgspec.Meta(description="When they accepted")]


class OrderOut(OrderBody, frozen=True, kw_only=True):
    participants: Annotated[
        list[uuid.UUID] | None,
        msgspec.Meta(
            description=(
                "Who takes part (person ids); null for whoever may not see it: buyer admins, in "
                "individual supervision (only the cost centre's approvers and the participant see it)"
            )
        ),
    ] = None  # type: ignore[assignment]
    id: Annotated[uuid.UUID, msgspec.Meta(description="The order's id")]
    order_number: Annotated[
        str | None,
        msgspec.Meta(
            description=(
                "The buyer's human-readable number, e.g. TO-2027-000123 (year of creation in Helsinki "
                "and a gapless sequence of the buyer's): what people say and invoices carry as the "
                "order reference"
            )
        ),
    ] = None
    buyer_id: Annotated[uuid.UUID, msgspec.Meta(description="The buyer tenant that made the order")]
    status: Annotated[
        OrderStatus,
        msgspec.Meta(
            description=(
                "Where the order is in its lifecycle (draft, submitted, approved, offered, "
                "accepted, active, …)"
            )
        ),
    ]
    requested_by: Annotated[uuid.UUID, msgspec.Meta(description="Who (person id) made the order")]
    approved_by: Annotated[
        uuid.UUID | None,
        msgspec.Meta(description="Who (person id) approved the order; absent until approved"),
    ] = None
    price: Annotated[
        PriceItemBody | None,
        msgspec.Meta(description="The price that applies to the order, fixed at approval"),
    ] = None
    cancellation: Annotated[
        CancellationBody | None,
        msgspec.Meta(description="The agreement's cancellation terms, fixed at approval"),
    ] = None
    price_list: Annotated[
        list[PriceItemBody],
        msgspec.Meta(
            description="Every price of the lot and form in force on the start date (snapshot at approval)."
        ),
    ] = []
    payment_terms_days: Annotated[
        int | None,
        msgspec.Meta(description="Days from invoice date to due date, from the agreement at approval"),
    ] = None
    agreement_number: Annotated[
        str | None, msgspec.Meta(description="The agreement's number, fixed at approval (for invoices)")
    ] = None
    budget_overridden: Annotated[
        bool, msgspec.Meta(description="Whether an approver approved beyond the cost centre's budget room")
    ] = False
    supervisor_assigned: Annotated[
        bool,
        msgspec.Meta(description="The provider assigned supervisorId; until then it is the orderer's wish."),
    ] = False
    conflict: Annotated[
        str,
        msgspec.Meta(description="The supervisor's conflict-of-interest state: none, declared or accepted"),
    ]
    conflict_acceptances: Annotated[
        list[ConflictAcceptanceOut],
        msgspec.Meta(
            description="Who accepted a declared conflict (approver, affected participants) and when"
        ),
    ] = []
    pending_extension_sessions: Annotated[
        int | None, msgspec.Meta(description="Sessions asked for in an extension awaiting approval.")
    ] = None
    version: Annotated[
        int, msgspec.Meta(description="The order's version; its ETag, to send back as If-Match")
    ]


def _draft(body: OrderBody) -> OrderDraft:
    return OrderDraft(
        cost_centre_id=body.cost_centre_id,
        agreement_id=body.agreement_id,
        lot=body.lot,
        form=body.form,
        participants=tuple(body.participants),
        planned_sessions=body.planned_sessions,
        duration_minutes=body.duration_minutes,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        mode=body.mode,
        selection=body.selection,
        justification=body.justification,
        provider_id=body.provider_id,
        supervisor_id=body.supervisor_id,
    )


def _price_body(price: PriceItem) -> PriceItemBody:
    return PriceItemBody(
        lot=price.lot,
        form=price.form,
        duration_minutes=price.duration_minutes,
        mode=price.mode,
        unit=price.unit,
        net_price_cents=price.net_price_cents,
        valid_from=price.valid_from,
    )


def _out(order: Order, viewer: Principal) -> OrderOut:
    """The order as ``viewer`` may see it: the buyer's written justification stays the buyer's."""
    price, terms = order.price, order.cancellation
    return OrderOut(
        id=order.order_id,
        order_number=order.order_number,
        buyer_id=order.buyer_tenant_id,
        cost_centre_id=order.cost_centre_id,
        agreement_id=order.agreement_id,
        lot=order.lot,
        form=order.form,
        # Empty only when the handlers hid who takes part from the viewer (an order has at least one).
        participants=list(order.participants) or None,
        planned_sessions=order.planned_sessions,
        duration_minutes=order.duration_minutes,
        starts_on=order.starts_on,
        ends_on=order.ends_on,
        mode=order.mode,
        selection=order.selection,
        justification=order.justification if viewer.tenant_id == order.buyer_tenant_id else None,
        provider_id=order.provider_id,
        supervisor_id=order.supervisor_id,
        status=order.status,
        requested_by=order.requested_by,
        approved_by=order.approved_by,
        price=None if price is None else _price_body(price),
        price_list=[_price_body(item) for item in order.price_list],
        payment_terms_days=order.payment_terms_days,
        agreement_number=order.agreement_number,
        cancellation=None
        if terms is None
        else CancellationBody(
            late_threshold_hours=terms.late_threshold_hours,
            late_cancellation_charge_percent=terms.late_cancellation_charge_percent,
            no_show_charge_percent=terms.no_show_charge_percent,
            illness_exempt=terms.illness_exempt,
        ),
        budget_overridden=order.budget_override is not None,
        supervisor_assigned=order.supervisor_assigned,
        conflict=order.conflict.state.value,
        conflict_acceptances=[
            ConflictAcceptanceOut(by=a.by, party=a.party, at=a.at) for a in order.conflict.acceptances
        ],
        pending_extension_sessions=order.pending_extension.additional_sessions
        if order.pending_extension
        else None,
        version=order.version,
    )


def _versioned(order: Order, viewer: Principal, status_code: int = 200) -> Response[OrderOut]:
    return versioned(_out(order, viewer), order.version, status_code)


class OrderController(Controller):
    """Supervision orders (tilaukset): from draft to the provider's acceptance."""

    path = "/orders"
    tags = ["orders"]

    @post("/", operation_id="createOrder", summary="Draft a supervision order", guards=ORDERERS)
    async def create(
        self,
        data: JSONBody[OrderBody],
        pool: Pool,
        principal: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OrderOut]:
        # The hash is of the decoded body, so formatting and key order do not matter.
        body_hash = request_hash(principal.subject, msgspec.json.encode(data))
        order = await handlers.create_order(
            pool, principal, _draft(data), idempotency_key=idempotency_key, body_hash=body_hash
        )
        return _versioned(order, principal, status_code=201)

    @get("/", operation_id="listOrders", summary="The orders the caller may read", guards=READERS)
    async def index(
        self,
        pool: Pool,
        principal: Caller,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
        status: FromQuery[OrderStatus | None] = None,
        cost_centre_id: Annotated[uuid.UUID | None, QueryParameter(name="costCentreId")] = None,
        supervisor_id: Annotated[uuid.UUID | None, QueryParameter(name="supervisorId")] = None,
        period_from: Annotated[
            dt.date | None,
            QueryParameter(name="periodFrom", description="Orders whose period ends on or after this day"),
        ] = None,
        period_to: Annotated[
            dt.date | None,
            QueryParameter(name="periodTo", description="Orders whose period starts on or before this day"),
        ] = None,
    ) -> Page[OrderOut]:
        rows, next_cursor = await handlers.list_orders(
            pool,
            principal,
            cursor=cursor,
            limit=limit,
            status=status,
            cost_centre_id=cost_centre_id,
            supervisor_id=supervisor_id,
            period_from=period_from,
            period_to=period_to,
        )
        return Page(items=[_out(o, principal) for o in rows], next_cursor=next_cursor)

    @get("/{order_id:uuid}", operation_id="getOrder", summary="One order", guards=READERS)
    async def read(self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller) -> Response[OrderOut]:
        return _versioned(await handlers.get_order(pool, principal, order_id), principal)

    @post(
        "/{order_id:uuid}/submit",
        operation_id="submitOrder",
        summary="Submit a draft for approval",
        guards=ORDERERS,
        status_code=200,
    )
    async def submit(
        self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[OrderOut]:
        order = await handlers.submit_order(
            pool, principal, order_id, expected_version=expected_version(if_match)
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/reject",
        operation_id="rejectOrder",
        summary="Reject a submitted order",
        guards=APPROVERS,
        status_code=200,
    )
    async def reject(
        self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[OrderOut]:
        order = await handlers.reject_order(
            pool, principal, order_id, expected_version=expected_version(if_match)
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/offer",
        operation_id="offerOrder",
        summary="Offer an approved order to its provider",
        guards=APPROVERS,
        status_code=200,
    )
    async def offer(
        self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[OrderOut]:
        order = await handlers.offer_order(
            pool, principal, order_id, expected_version=expected_version(if_match)
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/accept",
        operation_id="acceptOrder",
        summary="The provider accepts an offered order",
        guards=PROVIDERS,
        status_code=200,
    )
    async def accept(
        self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[OrderOut]:
        order = await handlers.accept_order(
            pool, principal, order_id, expected_version=expected_version(if_match)
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/decline",
        operation_id="declineOrder",
        summary="The provider declines; under ranking the offer passes on",
        guards=PROVIDERS,
        status_code=200,
    )
    async def decline(
        self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[OrderOut]:
        order = await handlers.decline_order(
            pool, principal, order_id, expected_version=expected_version(if_match)
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/approve",
        operation_id="approveOrder",
        summary="Approve a submitted order (snapshots the price and cancellation terms)",
        guards=APPROVERS,
        status_code=200,
    )
    async def approve(
        self,
        order_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        data: JSONBody[ApproveBody | None] = None,
        if_match: IfMatch = None,
    ) -> Response[OrderOut]:
        order = await handlers.approve_order(
            pool,
            principal,
            order_id,
            override_reason=data.override_reason if data else None,
            expected_version=expected_version(if_match),
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/declare-conflict",
        operation_id="declareOrderConflict",
        summary="The supervisor declares prior relationships with participants (none: an empty list)",
        guards=SUPERVISORS,
        status_code=200,
    )
    async def declare_conflict(
        self,
        order_id: FromPath[uuid.UUID],
        data: JSONBody[DeclareConflictBody],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[OrderOut]:
        order = await handlers.declare_conflict(
            pool,
            principal,
            order_id,
            related_participants=frozenset(data.related_participants),
            expected_version=expected_version(if_match),
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/assign-supervisor",
        operation_id="assignOrderSupervisor",
        summary="The provider's admin names a qualified supervisor of theirs for an offered order",
        guards=PROVIDER_ADMINS,
        status_code=200,
    )
    async def assign_supervisor(
        self,
        order_id: FromPath[uuid.UUID],
        data: JSONBody[AssignSupervisorBody],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[OrderOut]:
        order = await handlers.assign_supervisor(
            pool,
            principal,
            order_id,
            supervisor_id=data.supervisor_id,
            expected_version=expected_version(if_match),
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/accept-conflict",
        operation_id="acceptOrderConflict",
        summary="An approver of the cost centre or an affected participant accepts a declared conflict",
        guards=CONFLICT_ACCEPTORS,
        status_code=200,
    )
    async def accept_conflict(
        self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[OrderOut]:
        order = await handlers.accept_conflict(
            pool, principal, order_id, expected_version=expected_version(if_match)
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/start",
        operation_id="startOrder",
        summary="Optional: mark an accepted order an active supervision process before its first session",
        description="The first held session starts an accepted order by itself (orders hears sessions' "
        "session-held event and emits OrderStarted naming the session), so nobody needs to call this. "
        "Either party may start the process earlier, e.g. once the supervision agreement is signed; an "
        "order already active answers 409.",
        guards=PARTIES,
        status_code=200,
    )
    async def start(
        self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[OrderOut]:
        order = await handlers.start_order(
            pool, principal, order_id, expected_version=expected_version(if_match)
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/complete",
        operation_id="completeOrder",
        summary="An active process is complete",
        guards=PARTIES,
        status_code=200,
    )
    async def complete(
        self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[OrderOut]:
        order = await handlers.complete_order(
            pool, principal, order_id, expected_version=expected_version(if_match)
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/interrupt",
        operation_id="interruptOrder",
        summary="Either side ends an active process early",
        guards=PARTIES,
        status_code=200,
    )
    async def interrupt(
        self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[OrderOut]:
        order = await handlers.interrupt_order(
            pool, principal, order_id, expected_version=expected_version(if_match)
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/cancel",
        operation_id="cancelOrder",
        summary="The buyer cancels before the process starts (the orderer their own draft or request)",
        guards=CANCELLERS,
        status_code=200,
    )
    async def cancel(
        self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[OrderOut]:
        order = await handlers.cancel_order(
            pool, principal, order_id, expected_version=expected_version(if_match)
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/request-extension",
        operation_id="requestOrderExtension",
        summary="Ask for more sessions; they count once an approver approves",
        guards=EXTENSION_REQUESTERS,
        status_code=200,
    )
    async def request_extension(
        self,
        order_id: FromPath[uuid.UUID],
        data: JSONBody[ExtensionBody],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[OrderOut]:
        order = await handlers.request_extension(
            pool,
            principal,
            order_id,
            additional_sessions=data.additional_sessions,
            expected_version=expected_version(if_match),
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/approve-extension",
        operation_id="approveOrderExtension",
        summary="Approve the pending extension (budget room for the added sessions, or an audited override)",
        guards=APPROVERS,
        status_code=200,
    )
    async def approve_extension(
        self,
        order_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        data: JSONBody[ApproveBody | None] = None,
        if_match: IfMatch = None,
    ) -> Response[OrderOut]:
        order = await handlers.approve_extension(
            pool,
            principal,
            order_id,
            override_reason=data.override_reason if data else None,
            expected_version=expected_version(if_match),
        )
        return _versioned(order, principal)

    @post(
        "/{order_id:uuid}/reject-extension",
        operation_id="rejectOrderExtension",
        summary="Reject the pending extension",
        guards=APPROVERS,
        status_code=200,
    )
    async def reject_extension(
        self, order_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[OrderOut]:
        order = await handlers.reject_extension(
            pool, principal, order_id, expected_version=expected_version(if_match)
        )
        return _versioned(order, principal)
