"""Schemathesis against every service's OpenAPI document, with valid tokens (security research §3,
ASVS 16.5, API9): no server error, every status documented, every body as the document says.

Cases come from schemathesis' own data generation (Hypothesis, derandomized so a run is repeatable);
each is sent to the app ``create_app`` builds, with a token of one of the callers below in turn, and
checked with schemathesis' ``not_a_server_error``, ``status_code_conformance`` and
``response_schema_conformance``. ``make test`` runs a few cases per operation; ``make security``
(the ``security`` marker) many more.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.security.harness import Actor, World
from tila.composition import SERVICES

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

QUICK_EXAMPLES = int(os.environ.get("TILA_SCHEMATHESIS_EXAMPLES", "3"))
LONG_EXAMPLES = int(os.environ.get("TILA_SCHEMATHESIS_LONG_EXAMPLES", "60"))


def generated_cases(doc: dict[str, Any], examples: int) -> list[Any]:
    """Up to ``examples`` cases of every operation of ``doc``, from schemathesis' strategies."""
    schema = schemathesis.openapi.from_dict(doc)
    cases: list[Any] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid document fails here

        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy())
        def collect(case: Any) -> None:
            cases.append(case)

        collect()
    return cases


def _callers(world: World) -> list[Actor]:
    buyer, provider = world.tenants["A-buyer"], world.tenants["A-provider"]
    return [
        buyer.strongest(),
        provider.strongest(),
        world.platform_admin,
        Actor(
            buyer.id, (), f"client:{uuid.uuid4()}", world.issuer, scopes=("events:read", "webhooks:manage")
        ),
    ]


async def run_schemathesis(world: World, service: str, examples: int) -> tuple[int, list[str]]:
    cases = generated_cases(world.apps.docs[service], examples)
    callers = _callers(world)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for index, case in enumerate(cases):
        actor = callers[index % len(callers)]
        headers = {**(case.headers or {}), **actor.headers()}
        kwargs: dict[str, Any] = {"headers": headers, "params": case.query or None}
        media = case.media_type or ""
        if case.body is not None and not isinstance(case.body, schemathesis.core.NotSet):
            if "json" in media:
                kwargs["json"] = case.body
            elif "form" in media and isinstance(case.body, dict):
                kwargs["data"] = case.body
            else:
                kwargs["content"] = case.body if isinstance(case.body, (bytes, str)) else str(case.body)
        client = world.apps.clients[service]
        response = await client.request(case.method, case.formatted_path, **kwargs)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, FailureGroup) as failure:
            first = str(failure).strip().splitlines()[:6]
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: {' | '.join(first)}"
            )
    print(
        f"\nschemathesis {service}: {len(cases)} cases, statuses {dict(statuses)}, {len(failures)} failures"
    )
    return len(cases), failures


@pytest.mark.parametrize("service", SERVICES)
async def test_generated_requests_find_no_server_error_and_answers_match_the_document(
    world: World, service: str
) -> None:
    sent, failures = await run_schemathesis(world, service, QUICK_EXAMPLES)
    assert sent > 0
    assert not failures, "\n".join(failures[:40])


@pytest.mark.security
@pytest.mark.parametrize("service", SERVICES)
async def test_many_generated_requests_find_no_server_error_and_answers_match_the_document(
    world: World, service: str
) -> None:
    sent, failures = await run_schemathesis(world, service, LONG_EXAMPLES)
    assert sent > 0
    assert not failures, "\n".join(failures[:80])
