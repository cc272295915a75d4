"""Helpers the security tests share (test modules import these, never each other).

The services' OpenAPI documents as their apps build them, without any server (for collecting tests),
and the routes that touch supervision content with what to call them with.
"""

from __future__ import annotations

import functools
import importlib
import re
import uuid
from typing import Any

from shared.config import ServiceSettings
from tests.security.harness import World
from tests.security.openapi import Operation, generate, operations
from tila.composition import SERVICES

__all__ = [
    "CONTENT_PATH",
    "all_operations",
    "content_body",
    "content_operations",
    "content_path",
    "document",
]

CONTENT_PATH = re.compile(r"/content(?:$|/|-status)|/goal-consent|/notes|/evaluations|/feedback")
"""What marks a content route; a new one under these names is in the matrix without an edit. (A
provider admin's ``/content-retention`` setting holds no content and is not one.)"""


@functools.cache
def document(service: str) -> dict[str, Any]:
    module = importlib.import_module(f"services.{service}.app")
    app = module.create_app(ServiceSettings(service=service, database_url="postgresql://127.0.0.1:1/unused"))
    doc: dict[str, Any] = app.openapi_schema.to_schema()
    return doc


def all_operations() -> list[Operation]:
    return [op for service in SERVICES for op in operations(service, document(service))]


def content_operations(ops: list[Operation]) -> list[Operation]:
    return [op for op in ops if CONTENT_PATH.search(op.path) and not op.public]


def content_path(op: Operation, world: World, created: list[str]) -> str:
    """``op``'s path with A's ids; an id of a kind A's callers never listed (a content item's) is the
    last one the supervisor created."""
    path = op.path
    pools = [world.tenants["A-buyer"].pool, world.tenants["A-provider"].pool]
    for slot in op.slots:
        if slot.location == "path":
            found = next((p.by_kind[slot.kind][:1] for p in pools if slot.kind in p.by_kind), [])
            fallback = created[-1:] or [str(uuid.uuid4())]
            path = path.replace("{" + slot.name + "}", (found or fallback)[0])
    return path


def content_body(op: Operation, world: World, canary: str) -> Any:
    if op.body_schema is None:
        return None
    body = generate(world.apps.docs[op.service], op.body_schema)
    return _plant(body, canary)


def _plant(node: Any, canary: str) -> Any:
    """Every free-text string of a generated body carries the content canary."""
    if isinstance(node, dict):
        return {k: _plant(v, canary) for k, v in node.items()}
    if isinstance(node, list):
        return [_plant(v, canary) for v in node]
    if isinstance(node, str) and node.startswith("Testi"):
        return f"{canary} {node}"[: max(len(node), 40)]
    return node
