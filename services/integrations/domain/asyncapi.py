"""The AsyncAPI 3.0 document of the public catalogue, and the JSON Schemas it is built from.

Generated from :data:`catalogue.CATALOGUE` and its msgspec Structs (``msgspec.json.schema``), so
the document and what is sent cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import msgspec

from services.integrations.domain import catalogue

__all__ = ["asyncapi_document", "data_schema", "event_schema_name"]

_REF = "#/components/schemas/{name}"


def event_schema_name(public_type: str) -> str:
    """``fi.tila.order.approved.v1`` → ``OrderApprovedV1``."""
    parts = public_type.removeprefix("fi.tila.").replace("_", ".").split(".")
    return "".join(part[:1].upper() + part[1:] for part in parts)


def _key(public_type: str) -> str:
    name = event_schema_name(public_type)
    return name[:1].lower() + name[1:]


def data_schema(public: catalogue.PublicType) -> dict[str, Any]:
    """The JSON Schema of one public type's ``data``."""
    schema: dict[str, Any] = msgspec.json.schema(public.data)
    return schema


def _event_schema(public: catalogue.PublicType) -> dict[str, Any]:
    return {
        "type": "object",
        "title": public.type,
        "description": f"CloudEvents 1.0 (structured JSON). {public.summary}",
        "required": ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"],
        "additionalProperties": False,
        "properties": {
            "specversion": {"type": "string", "const": catalogue.SPEC_VERSION},
            "id": {"type": "string", "format": "uuid", "description": "Unique per event; the webhook-id."},
            "source": {"type": "string", "const": public.source},
            "type": {"type": "string", "const": public.type},
            "subject": {"type": "string", "description": "The id of the order, session or invoice."},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"type": "string", "const": catalogue.DATA_CONTENT_TYPE},
            "data": {"$ref": _REF.format(name=public.data.__name__)},
        },
    }


_WEBHOOK_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "Standard Webhooks signature headers (HMAC-SHA256 with the endpoint's whsec_ secret).",
    "required": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    "properties": {
        "webhook-id": {"type": "string", "description": "The event id; the same on every retry."},
        "webhook-timestamp": {"type": "string", "description": "Unix seconds of this attempt."},
        "webhook-signature": {
            "type": "string",
            "description": "Space-separated v1,<base64> signatures; two while a secret is being rotated.",
        },
    },
}


def asyncapi_document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document: one channel per public event type."""
    _, components = msgspec.json.schema_components(
        [public.data for public in catalogue.CATALOGUE], ref_template=_REF
    )
    schemas: dict[str, Any] = dict(sorted(components.items()))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for public in catalogue.CATALOGUE:
        key, name = _key(public.type), event_schema_name(public.type)
        schemas[name] = _event_schema(public)
        messages[key] = {
            "name": public.type,
            "title": public.type,
            "summary": public.summary,
            "contentType": "application/cloudevents+json",
            "headers": _WEBHOOK_HEADERS,
            "payload": {"$ref": _REF.format(name=name)},
        }
        channels[key] = {
            "address": public.type,
            "title": public.type,
            "description": (
                f"{public.summary} Delivered to the webhooks subscribed to {public.type} and listed in "
                "the event feed (GET /integrations/events)."
            ),
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"send{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": public.summary,
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Tila public events",
            "version": "1.0.0",
            "description": (
                "The events HR and finance systems hear of: CloudEvents 1.0 in JSON, delivered to a "
                "buyer's webhooks signed per Standard Webhooks and readable from the event feed. Each "
                "type is versioned (.vN); a new version is a new type."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }
