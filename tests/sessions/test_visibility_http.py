"""The content wall over HTTP: every caller × every kind × own / same tenant's other / other tenant's.

Only the cells domain.md's table allows succeed; everything else is refused (403 for a caller related
to the process, 404 for anyone else — the process does not exist for them), and lists hold exactly
the allowed items.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
import pytest
import pytest_asyncio

from services.sessions.domain.visibility import (
    Caller,
    ContentKind,
    Relation,
    may_read,
    may_update,
    may_write,
    relation_of,
)
from services.sessions.domain.visibility import ProcessParties as Parties
from shared.testing.issuer import TestIssuer
from tests.sessions.support import Client, Headers, World, body_of, new_world, use_keyring, write

K = ContentKind


@dataclass(frozen=True)
class Person:
    name: str
    tenant_id: uuid.UUID
    subject: str
    roles: tuple[str, ...]
    client: bool = False
    approves: uuid.UUID | None = None
    """The cost centre this approver holds."""

    def headers(self, world: World) -> Headers:
        claims = {"client_id": self.subject} if self.client else {}
        return world.headers(self.tenant_id, self.subject, *self.roles, **claims)

    def caller(self) -> Caller:
        try:
            person: uuid.UUID | None = uuid.UUID(self.subject)
        except ValueError:
            person = None
        held = frozenset({self.approves}) if self.approves else frozenset()
        return Caller(person, self.tenant_id, frozenset(self.roles), self.client, approver_of=held)


def people(world: World) -> list[Person]:
    p = world.parties
    return [
        Person("supervisor", p.provider_id, str(p.supervisor_id), ("supervisor",)),
        Person("participant_1", p.buyer_id, str(p.participants[0]), ("employee",)),
        Person("participant_2", p.buyer_id, str(p.participants[1]), ("employee",)),
        Person("buyer_admin", p.buyer_id, str(uuid.uuid4()), ("buyer_admin",)),
        Person("approver", p.buyer_id, str(p.approver_id), ("approver",), approves=p.cost_centre_id),
        Person("other_approver", p.buyer_id, str(uuid.uuid4()), ("approver",)),
        Person("other_employee", p.buyer_id, str(uuid.uuid4()), ("employee",)),
        Person("provider_admin", p.provider_id, str(uuid.uuid4()), ("provider_admin",)),
        Person("other_supervisor", p.provider_id, str(uuid.uuid4()), ("supervisor",)),
        Person("machine_client", p.buyer_id, "client:hr-system", ("buyer_admin",), client=True),
        Person("platform_admin", uuid.UUID(int=0), str(uuid.uuid4()), ("platform_admin",)),
    ]


# Who writes each kind in the fixture, and the items made.
AUTHORS = {
    K.PRIVATE_NOTE: ["supervisor"],
    K.SHARED_NOTE: ["supervisor"],
    K.REFLECTION: ["participant_1", "participant_2"],
    K.GOAL: ["supervisor", "participant_1"],
    K.PARTICIPANT_EVALUATION: ["participant_1", "participant_2"],
    K.SUPERVISOR_EVALUATION: ["supervisor"],
    K.SUMMARY: ["supervisor"],
}
PHASE = {K.PARTICIPANT_EVALUATION: "mid", K.SUPERVISOR_EVALUATION: "final"}
NAMES = [
    "supervisor",
    "participant_1",
    "participant_2",
    "buyer_admin",
    "approver",
    "other_approver",
    "other_employee",
    "provider_admin",
    "other_supervisor",
    "machine_client",
    "platform_admin",
]


@dataclass
class Setting:
    world: World
    other: World
    people: list[Person]
    items: list[dict[str, object]]
    other_items: list[dict[str, object]]


@pytest_asyncio.fixture(scope="module")
async def setting(client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer) -> Setting:
    use_keyring(client)
    world, other = await new_world(sessions_pool, issuer), await new_world(sessions_pool, issuer)
    everyone = {p.name: p for p in people(world)}
    others = {p.name: p for p in people(other)}
    items, other_items = [], []
    for kind, authors in AUTHORS.items():
        for author in authors:
            items.append(
                await write(
                    client,
                    world,
                    everyone[author].headers(world),
                    kind,
                    f"{kind} by {author}",
                    PHASE.get(kind),
                )
            )
            other_items.append(
                await write(
                    client, other, others[author].headers(other), kind, f"{kind} by {author}", PHASE.get(kind)
                )
            )
    return Setting(world, other, list(everyone.values()), items, other_items)


def _parties(world: World) -> Parties:
    p = world.parties
    return Parties(
        world.process_id,
        p.buyer_id,
        p.provider_id,
        p.supervisor_id,
        frozenset(p.participants),
        cost_centre_id=p.cost_centre_id,
    )


def _allowed(person: Person, world: World, item: dict[str, object]) -> bool:
    relation = relation_of(person.caller(), _parties(world))
    return may_read(
        relation,
        K(str(item["kind"])),
        own=item["ownerId"] == person.subject,
        written_by_supervisor=item["ownerId"] == str(world.parties.supervisor_id),
    )


@pytest.mark.parametrize("who", NAMES)
async def test_each_caller_reads_exactly_the_allowed_items_of_the_process(
    client: Client, setting: Setting, who: str
) -> None:
    person = next(p for p in setting.people if p.name == who)
    world = setting.world
    headers = person.headers(world)
    relation = relation_of(person.caller(), _parties(world))
    allowed_ids = set()
    for item in setting.items:
        response = await client.get(f"{world.base}/content/{item['id']}", headers=headers)
        if _allowed(person, world, item):
            assert body_of(response, 200)["body"] == f"{item['kind']} by " + _author_name(setting, item)
            allowed_ids.add(item["id"])
        else:
            # Unrelated to the process: it does not exist for them (as for its frame). Related but
            # not allowed this item: 403.
            expected = 404 if relation is Relation.NONE else 403
            assert response.status_code == expected, (who, item["kind"], response.status_code)
            assert str(item["kind"]) + " by" not in response.text
    listed = await client.get(f"{world.base}/content", headers=headers, params={"limit": 200})
    if relation is Relation.NONE:
        assert listed.status_code == 404
    else:
        assert {i["id"] for i in body_of(listed, 200)["items"]} == allowed_ids


def _author_name(setting: Setting, item: dict[str, object]) -> str:
    return next(p.name for p in setting.people if p.subject == item["ownerId"])


def test_the_matrix_has_cells_both_ways() -> None:
    # A guard against a fixture in which nobody may read anything (or everybody everything).
    relations = [Relation.SUPERVISOR, Relation.PARTICIPANT]
    assert any(may_read(r, k, own=False) for r in relations for k in K)
    assert not all(may_read(r, k, own=False) for r in relations for k in K)


@pytest.mark.parametrize("who", NAMES)
async def test_another_tenants_process_and_items_are_404_for_everyone(
    client: Client, setting: Setting, who: str
) -> None:
    person = next(p for p in setting.people if p.name == who)
    headers = person.headers(setting.world)
    other = setting.other
    for item in setting.other_items:
        response = await client.get(f"{other.base}/content/{item['id']}", headers=headers)
        assert response.status_code == 404, (who, item["kind"])
        # Another tenant's item under the caller's own process id is not there either.
        response = await client.get(f"{setting.world.base}/content/{item['id']}", headers=headers)
        assert response.status_code in (403, 404)
        assert "by" not in response.text
    assert (await client.get(f"{other.base}/content", headers=headers)).status_code == 404
    response = await client.post(f"{other.base}/content", json={"kind": "goal", "body": "x"}, headers=headers)
    assert response.status_code == 404


@pytest.mark.parametrize("kind", list(K))
async def test_only_the_allowed_callers_write_each_kind(client: Client, setting: Setting, kind: K) -> None:
    world = setting.world
    for person in setting.people:
        relation = relation_of(person.caller(), _parties(world))
        payload = {"kind": kind.value, "body": f"written by {person.name}"}
        if kind in PHASE:
            payload["phase"] = PHASE[kind]
        response = await client.post(f"{world.base}/content", json=payload, headers=person.headers(world))
        if may_write(relation, kind):
            assert body_of(response, 201)["ownerId"] == person.subject
        else:
            expected = 404 if relation is Relation.NONE else 403
            assert response.status_code == expected, (person.name, kind, response.status_code)
            assert "written by" not in response.text


async def test_group_members_never_see_each_others_reflections_or_evaluations(
    client: Client, setting: Setting
) -> None:
    world = setting.world
    listed = body_of(await client.get(f"{world.base}/content", headers=world.participant(1)), 200)["items"]
    p1 = str(world.parties.participants[0])
    assert not [
        i for i in listed if i["ownerId"] == p1 and i["kind"] in ("reflection", "participant_evaluation")
    ]


async def test_only_the_author_changes_an_item(client: Client, setting: Setting) -> None:
    world = setting.world
    shared_note = next(i for i in setting.items if i["kind"] == "shared_note")
    url = f"{world.base}/content/{shared_note['id']}"
    refused = await client.put(url, json={"body": "overwritten"}, headers=world.participant(0))
    assert refused.status_code == 403
    changed = await client.put(url, json={"body": "shared_note by supervisor"}, headers=world.supervisor())
    assert body_of(changed, 200)["version"] == 2


@pytest.mark.parametrize("who", NAMES)
async def test_each_caller_changes_only_its_own_items(client: Client, setting: Setting, who: str) -> None:
    person = next(p for p in setting.people if p.name == who)
    world = setting.world
    relation = relation_of(person.caller(), _parties(world))
    for item in setting.items:
        kind = K(str(item["kind"]))
        same_text = f"{kind} by {_author_name(setting, item)}"  # the read test still finds it
        response = await client.put(
            f"{world.base}/content/{item['id']}", json={"body": same_text}, headers=person.headers(world)
        )
        if may_update(relation, kind, own=item["ownerId"] == person.subject):
            assert body_of(response, 200)["ownerId"] == person.subject
        else:
            expected = 404 if relation is Relation.NONE else 403
            assert response.status_code == expected, (who, kind, response.status_code)
