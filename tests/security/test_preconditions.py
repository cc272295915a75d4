"""Every change of a versioned resource, in every service, needs ``If-Match``: the OpenAPI documents
the header as required with a 428, and the API answers 428 when it is missing or ``*``."""

from __future__ import annotations

from typing import Any

from tests.clients import ReadBeforeWriteClient
from tests.security.harness import Apps, World
from tests.security.openapi import Operation


def _takes_if_match(op: Operation) -> bool:
    return any(p["in"] == "header" and p["name"].lower() == "if-match" for p in op.parameters)


def test_every_if_match_is_documented_as_required_with_a_428(apps: Apps) -> None:
    found: dict[str, int] = {}
    for service, doc in apps.docs.items():
        for item in doc["paths"].values():
            for method, operation in item.items():
                if not isinstance(operation, dict):
                    continue
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "header" and parameter["name"].lower() == "if-match":
                        assert parameter["required"] is True, (method, operation["operationId"])
                        assert "428" in operation["responses"], operation["operationId"]
                        found[service] = found.get(service, 0) + 1
    # The services with versioned resources, each with its changes.
    assert set(found) >= {"organisations", "orders", "sessions", "billing"}, found


async def test_a_change_without_if_match_or_with_a_star_is_a_428_in_every_service(
    apps: Apps, world: World
) -> None:
    tested: dict[str, set[str]] = {}
    for op in [o for o in apps.operations() if _takes_if_match(o)]:
        for tenant in world.tenants.values():
            paths = list(world._paths_for(op, tenant))
            if not paths:
                continue
            client = apps.client_for(op.path)
            assert isinstance(client, ReadBeforeWriteClient)
            answers: list[Any] = []
            client.careful = False
            try:
                for extra in ({}, {"If-Match": "*"}):
                    answers.append(
                        await apps.send(
                            op.method,
                            paths[0],
                            tenant.strongest(),
                            json_body=world.required_body(op),
                            headers=extra,
                        )
                    )
            finally:
                client.careful = True
            if any(a.status_code == 403 for a in answers):
                continue  # the other side's operation; another tenant holds the role
            for answer in answers:
                assert answer.status_code == 428, (op.key, answer.text)
                problem = answer.json()
                assert problem["type"] == "urn:tila:problem:precondition-required"
                assert [e["field"] for e in problem["errors"]] == ["header.If-Match"]
            tested.setdefault(op.service, set()).add(op.key)
            break
    # (The seeded world has no invoice yet; billing's is in tests/billing/test_invoicing.py.)
    assert set(tested) >= {"organisations", "orders", "sessions"}, tested
