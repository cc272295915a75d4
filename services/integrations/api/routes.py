"""Routes of the integrations API: the event feed, the AsyncAPI document, webhooks, settings."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.types import ControllerRouterHandler

from services.integrations import handlers
from services.integrations.domain import catalogue
from services.integrations.domain.asyncapi import asyncapi_document, data_schema
from shared.auth.guards import principal_of, requires_role, requires_scope
from shared.auth.principal import BUYER_ADMIN, Principal
from shared.errors import NotFound
from shared.http.app import NO_AUTH
from shared.http.dependencies import Caller, Pool
from shared.http.pagination import Page, PageSize

__all__ = ["ROUTES", "CloudEventOut"]

EVENTS_READ = "events:read"
WEBHOOKS_MANAGE = "webhooks:manage"

Policy = NamedDependency[handlers.EndpointPolicy]


async def provide_active_principal(request: Request[Any, Any, Any], pool: Pool) -> Principal:
    """The caller, if its tenant is not deactivated (403 otherwise, for tokens issued before too)."""
    principal = principal_of(request)
    await handlers.check_tenant_active(pool, principal)
    return principal


def _webhook_managers(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Buyer admins, and machine clients granted webhooks:manage."""
    principal = principal_of(connection)
    if not (principal.has_role(BUYER_ADMIN) or principal.has_scope(WEBHOOKS_MANAGE)):
        raise PermissionDeniedException("webhooks are managed by buyer admins or with webhooks:manage")


class CloudEventOut(msgspec.Struct, frozen=True):
    """A public event (CloudEvents 1.0, JSON format); ``data`` follows the type's schema in the
    AsyncAPI document."""

    specversion: Annotated[str, msgspec.Meta(description="The CloudEvents version: 1.0")]
    id: Annotated[
        uuid.UUID, msgspec.Meta(description="The event's id; the same event delivered twice has the same id")
    ]
    source: Annotated[str, msgspec.Meta(description="Where the event comes from (the Tila service)")]
    type: Annotated[
        str,
        msgspec.Meta(
            description="The event's type, from the public catalogue (GET /integrations/asyncapi.json)"
        ),
    ]
    subject: Annotated[
        str, msgspec.Meta(description="What the event is about (the order, session or process id)")
    ]
    time: Annotated[dt.datetime, msgspec.Meta(description="When the event happened")]
    datacontenttype: Annotated[str, msgspec.Meta(description="The media type of data: application/json")]
    data: Annotated[
        dict[str, Any],
        msgspec.Meta(description="The event's payload, as the catalogue describes it for the type"),
    ]


@get(
    "/events",
    operation_id="listEvents",
    tags=["events"],
    summary="The caller's public events (CloudEvents), oldest first; resume with the returned cursor",
    guards=[requires_scope(EVENTS_READ)],
)
async def list_events(
    pool: Pool, principal: Caller, cursor: FromQuery[str | None] = None, limit: PageSize = 50
) -> Page[CloudEventOut]:
    bodies, next_cursor = await handlers.read_feed(pool, principal, cursor=cursor, limit=limit)
    return Page(items=[msgspec.json.decode(b, type=CloudEventOut) for b in bodies], next_cursor=next_cursor)


_ASYNCAPI = msgspec.json.encode(asyncapi_document())


@get(
    "/asyncapi.json",
    operation_id="getAsyncApi",
    tags=["events"],
    summary="The public event catalogue as an AsyncAPI 3.0 document",
    security=NO_AUTH,
)
async def get_asyncapi() -> Response[Any]:  # JSON, encoded once; Any documents it as JSON
    return Response(_ASYNCAPI, media_type="application/json")


@get(
    "/schemas/{event_type:str}",
    operation_id="getEventSchema",
    tags=["events"],
    summary="The JSON Schema of one public event type's data",
    security=NO_AUTH,
    media_type="application/schema+json",
)
async def get_event_schema(event_type: FromPath[str]) -> Response[Any]:
    public = catalogue.public_type(event_type)
    if public is None:
        raise NotFound("no such public event type")
    return Response(msgspec.json.encode(data_schema(public)), media_type="application/schema+json")


# --- settings ---


class SettingsBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    working_time_reason_code: Annotated[
        Annotated[str, msgspec.Meta(min_length=1, max_length=32)],
        msgspec.Meta(description="The reason code the working-time events carry for the HR system"),
    ]


class SettingsOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    working_time_reason_code: Annotated[
        str, msgspec.Meta(description="The reason code of the working-time events (default TYONOHJAUS).")
    ]


class SettingsController(Controller):
    path = "/settings"
    tags = ["settings"]
    guards = [requires_role(BUYER_ADMIN)]

    @get("/", operation_id="getIntegrationSettings", summary="The buyer's integration settings")
    async def read(self, pool: Pool, principal: Caller) -> SettingsOut:
        return SettingsOut(working_time_reason_code=await handlers.read_reason_code(pool, principal))

    @put("/", operation_id="putIntegrationSettings", summary="Change the buyer's integration settings")
    async def write(self, data: JSONBody[SettingsBody], pool: Pool, principal: Caller) -> SettingsOut:
        code = await handlers.set_reason_code(pool, principal, data.working_time_reason_code)
        return SettingsOut(working_time_reason_code=code)


# --- webhooks ---

DeliveryStatus = Literal["pending", "delivered", "dead"]


class EndpointBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    url: Annotated[
        Annotated[str, msgspec.Meta(min_length=1, max_length=2000)],
        msgspec.Meta(description="The HTTPS endpoint that receives the events"),
    ]
    event_types: Annotated[
        Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=50)],
        msgspec.Meta(description="The event types to send, at least one, each from the public catalogue"),
    ]


class EndpointOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True, omit_defaults=True):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The webhook endpoint's id")]
    url: Annotated[str, msgspec.Meta(description="The HTTPS endpoint that receives the events")]
    event_types: Annotated[list[str], msgspec.Meta(description="The event types sent to it")]
    created_at: Annotated[dt.datetime, msgspec.Meta(description="When the endpoint was registered")]
    previous_secret_expires_at: Annotated[
        dt.datetime | None,
        msgspec.Meta(description="While a rotated-out secret still signs beside the new one: until when."),
    ] = None
    secret: Annotated[
        str | None,
        msgspec.Meta(
            description=(
                "Only in the answer that created it (or rotated it): keep it, it is never shown again."
            )
        ),
    ] = None


class DeliveryOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True, omit_defaults=True):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The delivery's id")]
    event_id: Annotated[uuid.UUID, msgspec.Meta(description="The event delivered (the CloudEvent id)")]
    event_type: Annotated[str, msgspec.Meta(description="The event's type")]
    event_time: Annotated[dt.datetime, msgspec.Meta(description="When the event happened")]
    status: Annotated[
        DeliveryStatus, msgspec.Meta(description="pending, delivered or failed (given up after the retries)")
    ]
    attempts: Annotated[int, msgspec.Meta(description="How many times delivery was tried")]
    next_attempt_at: Annotated[
        dt.datetime | None,
        msgspec.Meta(description="When the next attempt is due; absent once delivered or failed"),
    ] = None
    last_attempt_at: Annotated[
        dt.datetime | None, msgspec.Meta(description="When delivery was last tried")
    ] = None
    last_status_code: Annotated[
        int | None, msgspec.Meta(description="The HTTP status the endpoint last answered with")
    ] = None
    last_error: Annotated[
        str | None, msgspec.Meta(description="Why the last attempt failed (never the endpoint's answer body)")
    ] = None
    delivered_at: Annotated[
        dt.datetime | None, msgspec.Meta(description="When the endpoint accepted the event")
    ] = None


def _endpoint(row: handlers.Endpoint, secret: str | None = None) -> EndpointOut:
    return EndpointOut(
        id=row.endpoint_id,
        url=row.url,
        event_types=list(row.event_types),
        created_at=row.created_at,
        previous_secret_expires_at=row.previous_secret_expires_at,
        secret=secret,
    )


def _delivery(row: handlers.Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.delivery_id,
        event_id=row.event_id,
        event_type=row.event_type,
        event_time=row.event_time,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        last_attempt_at=row.last_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
    )


class WebhookController(Controller):
    """A buyer's webhook endpoints: deliveries are CloudEvents signed per Standard Webhooks."""

    path = "/webhooks"
    tags = ["webhooks"]
    guards = [_webhook_managers]

    @post("/", operation_id="createWebhook", summary="Register an endpoint; its secret is shown once")
    async def create(
        self, data: JSONBody[EndpointBody], pool: Pool, principal: Caller, endpoint_policy: Policy
    ) -> Response[EndpointOut]:
        row, secret = await handlers.create_endpoint(
            pool, principal, endpoint_policy, url=data.url, event_types=data.event_types
        )
        return Response(_endpoint(row, secret), status_code=201)

    @get("/", operation_id="listWebhooks", summary="The tenant's webhook endpoints")
    async def index(self, pool: Pool, principal: Caller) -> Page[EndpointOut]:
        return Page(items=[_endpoint(r) for r in await handlers.list_endpoints(pool, principal)])

    @get("/{endpoint_id:uuid}", operation_id="getWebhook", summary="One webhook endpoint")
    async def read(self, endpoint_id: FromPath[uuid.UUID], pool: Pool, principal: Caller) -> EndpointOut:
        return _endpoint(await handlers.get_endpoint(pool, principal, endpoint_id))

    @delete(
        "/{endpoint_id:uuid}", operation_id="deleteWebhook", summary="Remove an endpoint and its deliveries"
    )
    async def remove(self, endpoint_id: FromPath[uuid.UUID], pool: Pool, principal: Caller) -> None:
        await handlers.delete_endpoint(pool, principal, endpoint_id)

    @post(
        "/{endpoint_id:uuid}/rotate-secret",
        operation_id="rotateWebhookSecret",
        summary="A new secret (shown once); the old one signs beside it until previousSecretExpiresAt",
        status_code=200,
    )
    async def rotate(
        self, endpoint_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, endpoint_policy: Policy
    ) -> EndpointOut:
        row, secret = await handlers.rotate_endpoint_secret(pool, principal, endpoint_policy, endpoint_id)
        return _endpoint(row, secret)

    @get(
        "/{endpoint_id:uuid}/deliveries",
        operation_id="listWebhookDeliveries",
        summary="The endpoint's deliveries with their status (pending, delivered, dead)",
    )
    async def deliveries(
        self,
        endpoint_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        status: FromQuery[DeliveryStatus | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
    ) -> Page[DeliveryOut]:
        rows, next_cursor = await handlers.list_deliveries(
            pool, principal, endpoint_id, status=status, cursor=cursor, limit=limit
        )
        return Page(items=[_delivery(r) for r in rows], next_cursor=next_cursor)

    @post(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/replay",
        operation_id="replayWebhookDelivery",
        summary="Put a dead-lettered delivery back in line, with a fresh retry window",
        status_code=202,
    )
    async def replay(
        self,
        endpoint_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
    ) -> DeliveryOut:
        return _delivery(await handlers.replay_delivery(pool, principal, endpoint_id, delivery_id))


ROUTES: list[ControllerRouterHandler] = [
    list_events,
    get_asyncapi,
    get_event_schema,
    SettingsController,
    WebhookController,
]
