"""What the security suite reads from the services' OpenAPI documents: operations, the id slots they
take (path, query, body), and valid-looking values for everything else.

Nothing here names a route: a new operation is covered as soon as its service documents it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BodySlot",
    "Operation",
    "Slot",
    "generate",
    "kind_of",
    "operations",
    "resolve",
    "resource_kind",
]

METHODS = ("get", "post", "put", "patch", "delete")

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def kind_of(name: str) -> str:
    """The noun an id slot names: ``order_id``, ``orderId`` and ``orderIds`` all name ``order``."""
    snake = _CAMEL.sub("_", name).lower()
    for suffix in ("_ids", "_id"):
        if snake.endswith(suffix):
            return snake[: -len(suffix)]
    return snake


def _singular(word: str) -> str:
    word = word.replace("-", "_")
    if word == "people":
        return "person"
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def resource_kind(path: str, method: str = "get") -> str | None:
    """The noun of the objects a path answers with: ``/orders/orders/{order_id}`` → ``order``; an
    action (``POST /orders/orders/{order_id}/submit``) answers with the object it acts on."""
    segments = [s for s in path.strip("/").split("/")[1:] if s]
    if (
        method != "get"
        and len(segments) >= 3
        and segments[-2].startswith("{")
        and not segments[-1].startswith("{")
    ):
        segments = segments[:-1]
    for segment in reversed(segments):
        if segment.startswith("{") or segment in ("me", "schema"):
            continue
        return _singular(segment)
    return None


def resolve(doc: dict[str, Any], schema: Any) -> Any:
    """``schema`` with its top-level ``$ref`` followed (repeatedly), also through a one-element
    ``allOf`` (how a ``$ref`` with a description of its own is written)."""
    seen = 0
    while (
        isinstance(schema, dict) and ("$ref" in schema or len(schema.get("allOf") or []) == 1) and seen < 20
    ):
        if "$ref" not in schema:
            schema = schema["allOf"][0]
            seen += 1
            continue
        ref: str = schema["$ref"]
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        schema = node
        seen += 1
    return schema


def _options(doc: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return [resolve(doc, s) for s in schema[key]]
    return []


def _non_null(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    options = [o for o in _options(doc, schema) if o.get("type") != "null"]
    if options:
        merged = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
        return {**merged, **options[0]}
    return schema


def _is_uuid(doc: dict[str, Any], schema: Any) -> bool:
    schema = resolve(doc, schema)
    if not isinstance(schema, dict):
        return False
    return any(o.get("format") == "uuid" for o in [schema, *_options(doc, schema)])


@dataclass(frozen=True)
class Slot:
    """A place in a request that carries an id: a path or query parameter, or a body property."""

    location: str  # "path" | "query" | "body"
    name: str
    kind: str
    pointer: tuple[str, ...] = ()  # for body slots: keys from the body's root, "[]" for array items
    many: bool = False  # the body property is an array of ids
    uuid: bool = True  # the schema says format uuid

    def label(self) -> str:
        return f"{self.location}.{'.'.join(self.pointer) if self.pointer else self.name}"


BodySlot = Slot


@dataclass
class Operation:
    service: str
    method: str
    path: str
    operation_id: str
    parameters: list[dict[str, Any]]
    body_schema: dict[str, Any] | None
    body_media: str | None
    public: bool
    slots: list[Slot] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def action(self) -> str:
        """read, update, delete or create (POST: a child or an action under the path's object)."""
        return {"get": "read", "put": "update", "patch": "update", "delete": "delete"}.get(
            self.method, "create"
        )

    def header_names(self) -> set[str]:
        return {p["name"].lower() for p in self.parameters if p.get("in") == "header"}


def _body_slots(doc: dict[str, Any], schema: Any, pointer: tuple[str, ...], depth: int = 0) -> Iterator[Slot]:
    schema = _non_null(doc, resolve(doc, schema))
    if depth > 5 or not isinstance(schema, dict):
        return
    if schema.get("type") == "array" or "items" in schema:
        yield from _body_slots(doc, schema.get("items", {}), (*pointer, "[]"), depth + 1)
        return
    for name, prop in (schema.get("properties") or {}).items():
        prop = _non_null(doc, resolve(doc, prop))
        # Every uuid-valued property is an id slot, named ``…Id``/``…Ids`` or not (``participants``).
        if _is_uuid(doc, prop):
            yield Slot("body", name, kind_of(name), (*pointer, name))
        elif prop.get("type") == "array" and _is_uuid(doc, prop.get("items", {})):
            yield Slot("body", name, kind_of(name), (*pointer, name), many=True)
        else:
            yield from _body_slots(doc, prop, (*pointer, name), depth + 1)


def operations(service: str, doc: dict[str, Any]) -> list[Operation]:
    """Every operation of ``doc``, with its id slots."""
    found: list[Operation] = []
    default_security = doc.get("security")
    for path, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            params = [resolve(doc, p) for p in [*shared, *op.get("parameters", [])]]
            security = op.get("security", default_security)
            public = not security or all(not s for s in security)
            body_schema = None
            body_media = None
            if "requestBody" in op:
                content = resolve(doc, op["requestBody"]).get("content", {})
                for media, entry in content.items():
                    body_media, body_schema = media, entry.get("schema", {})
                    break
            operation = Operation(
                service=service,
                method=method,
                path=path,
                operation_id=op.get("operationId", f"{method} {path}"),
                parameters=params,
                body_schema=body_schema,
                body_media=body_media,
                public=public,
            )
            for p in params:
                name = p["name"]
                is_uuid = _is_uuid(doc, p.get("schema"))
                if p["in"] in ("path", "query") and (name.endswith(("_id", "Id")) or is_uuid):
                    operation.slots.append(Slot(p["in"], name, kind_of(name), uuid=is_uuid))
            if body_schema is not None and body_media == "application/json":
                own = resource_kind(path, method)
                for slot in _body_slots(doc, body_schema, ()):
                    # ``parentId`` in an org unit's body names another org unit
                    kind = own if slot.kind == "parent" and own else slot.kind
                    operation.slots.append(Slot("body", slot.name, kind, slot.pointer, slot.many))
            found.append(operation)
    return found


# --- valid-looking values from a schema ---

_STRING_FORMATS: dict[str, Any] = {
    "date": lambda: "2026-12-01",
    "date-time": lambda: dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC).isoformat(),
    "email": lambda: f"testi.{uuid.uuid4().hex[:6]}@example.fi",
    "uuid": lambda: str(uuid.uuid4()),
    "uri": lambda: "https://example.fi/hook",
    "time": lambda: "09:00:00",
}


def generate(doc: dict[str, Any], schema: Any, depth: int = 0) -> Any:
    """A value ``schema`` accepts, as plain as possible: required properties only, first enum member."""
    schema = resolve(doc, schema)
    if not isinstance(schema, dict) or depth > 8:
        return None
    schema = _non_null(doc, schema)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "string" or (kind is None and "format" in schema):
        fmt = schema.get("format")
        if fmt in _STRING_FORMATS:
            return _STRING_FORMATS[fmt]()
        low = max(int(schema.get("minLength", 1)), 1)
        high = int(schema.get("maxLength", max(low, 12)))
        return ("Testi" + "x" * low)[: max(low, min(high, 12))]
    if kind == "integer":
        low = schema.get(
            "minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1
        )
        return int(max(low, 1) if schema.get("maximum", 10**9) >= 1 else low)
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array" or "items" in schema:
        count = max(int(schema.get("minItems", 1)), 1)
        return [generate(doc, schema.get("items", {}), depth + 1) for _ in range(count)]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {
            name: generate(doc, props[name], depth + 1)
            for name in schema.get("required", [])
            if name in props
        }
    return None
