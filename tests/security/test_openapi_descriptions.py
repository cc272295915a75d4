"""Every public field is documented: each property of every request and response schema in every
service's OpenAPI document has a description (msgspec ``Meta(description=...)``).

``UNDOCUMENTED`` lists the properties that had none when this test came in; it may only shrink:
a new property without a description fails, and so does a listed one that got its description
(take it off the list).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.security.harness import Apps

UNDOCUMENTED_FILE = Path(__file__).with_name("undocumented_fields.txt")


def _undocumented_listed() -> set[str]:
    lines = UNDOCUMENTED_FILE.read_text().splitlines() if UNDOCUMENTED_FILE.exists() else []
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


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
    missing = undocumented(apps)
    listed = _undocumented_listed()
    new = sorted(missing - listed)
    assert not new, "describe these fields (msgspec Meta(description=...)):\n" + "\n".join(new)
    done = sorted(listed - missing)
    assert not done, f"documented now: take them off {UNDOCUMENTED_FILE.name}:\n" + "\n".join(done)
