"""The AsyncAPI 3.0 document of the public catalogue, validated by the official parser
(npm ``@asyncapi/parser``, installed once under ``.cache/`` by the fixture below)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.integrations.domain import catalogue
from services.integrations.domain.asyncapi import asyncapi_document, data_schema, event_schema_name
from tests.integrations.support import Client

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "asyncapi-parser"
VALIDATOR = Path(__file__).with_name("validate_asyncapi.cjs")
PARSER = "@asyncapi/parser@3"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """``@asyncapi/parser`` 3 installed under .cache/ (git-ignored): once per clone, then reused."""
    modules = CACHE / "node_modules"
    if not (modules / "@asyncapi" / "parser" / "package.json").exists():
        npm = shutil.which("npm")
        assert npm is not None, "npm (Node.js 20) is needed to validate the AsyncAPI document"
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", "--loglevel=error", PARSER],
            check=True,
            timeout=300,
        )
    return modules


def _validate(node_modules: Path, document: dict[str, Any], tmp_path: Path) -> tuple[int, dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None
    file = tmp_path / "asyncapi.json"
    file.write_text(json.dumps(document))
    done = subprocess.run(
        [node, str(VALIDATOR), str(node_modules), str(file)], capture_output=True, text=True, timeout=120
    )
    return done.returncode, json.loads(done.stdout)


async def test_the_served_asyncapi_document_is_valid_per_the_official_parser(
    client: Client, node_modules: Path, tmp_path: Path
) -> None:
    response = await client.get("/integrations/asyncapi.json")  # public: no token
    assert response.status_code == 200
    document = response.json()
    code, result = _validate(node_modules, document, tmp_path)
    assert code == 0, result["errors"]
    assert result["valid"] is True
    assert result["version"] == "3.0.0"
    assert sorted(result["channels"]) == sorted(p.type for p in catalogue.CATALOGUE)


def test_the_parser_does_find_errors(node_modules: Path, tmp_path: Path) -> None:
    broken = asyncapi_document()
    del broken["info"]
    broken["channels"]["orderApprovedV1"]["messages"] = "not messages"
    code, result = _validate(node_modules, broken, tmp_path)
    assert code == 1
    assert result["valid"] is False
    assert result["errors"]


def test_every_public_type_has_its_data_schema_in_the_document() -> None:
    document = asyncapi_document()
    schemas = document["components"]["schemas"]
    for public in catalogue.CATALOGUE:
        event = schemas[event_schema_name(public.type)]
        assert event["properties"]["type"]["const"] == public.type
        assert event["additionalProperties"] is False
        assert set(event["properties"]) == catalogue.CLOUDEVENTS_ATTRIBUTES
        data = schemas[public.data.__name__]
        assert data["properties"] == data_schema(public)["$defs"][public.data.__name__]["properties"]


async def test_each_public_types_json_schema_is_served_and_unknown_ones_are_404(client: Client) -> None:
    for public in catalogue.CATALOGUE:
        response = await client.get(f"/integrations/schemas/{public.type}")  # public: no token
        assert response.status_code == 200
        assert response.json() == data_schema(public)
    assert (await client.get("/integrations/schemas/orders.order.approved.v1")).status_code == 404


async def test_the_openapi_document_of_the_service_renders(client: Client) -> None:
    response = await client.get("/integrations/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/integrations/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay" in paths
