"""Every public field is documented: each property of every request and response schema in every
service's OpenAPI document has a description (msgspec ``Meta(description=...)``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.security.harness import Apps


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        resolved: dict[str, Any] = doc["components"]["schemas"].get(ref.rsplit("/", 1)[1], {})
        return resolved
    return schema


def _documented(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    if schema.get("description"):
        return True
    # A property that is only a reference (or a nullable one) is documented by what it names.
    for option in [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]:
        if "$ref" in option and _resolve(doc, option).get("description"):
            return True
    return False


def _properties(doc: dict[str, Any], node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for name, schema in (node.get("properties") or {}).items():
            if isinstance(schema, dict):
                yield f"{where}.{name}", schema
        for key, child in node.items():
            if key != "properties":
                yield from _properties(doc, child, where)
            else:
                for name, schema in child.items():
                    yield from _properties(doc, schema, f"{where}.{name}")
    elif isinstance(node, list):
        for child in node:
            yield from _properties(doc, child, where)


def undocumented(apps: Apps) -> set[str]:
    missing = set()
    for service, doc in apps.docs.items():
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            for where, prop in _properties(doc, schema, f"{service}:{name}"):
                if not _documented(doc, prop):
                    missing.add(where)
        for path, item in doc.get("paths", {}).items():
            for method, operation in item.items():
                if not isinstance(operation, dict):
                    continue
                inline = [operation.get("requestBody"), operation.get("responses")]
                for where, prop in _properties(doc, inline, f"{service}:{method.upper()} {path}"):
                    if not _documented(doc, prop):
                        missing.add(where)
    return missing


def test_every_property_of_every_schema_has_a_description(apps: Apps) -> None:
    missing = sorted(undocumented(apps))
    assert not missing, "describe these fields (msgspec Meta(description=...)):\n" + "\n".join(missing)


def test_the_description_check_sees_an_undocumented_property(apps: Apps) -> None:
    doc = {"components": {"schemas": {"Thing": {"properties": {"a": {"type": "string"}}}}}, "paths": {}}
    assert undocumented(Apps(apps.clients, {"probe": doc})) == {"probe:Thing.a"}
