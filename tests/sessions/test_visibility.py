"""The content visibility rule as a pure function (domain.md, "Who may see what")."""

from __future__ import annotations

import uuid

import pytest

from services.sessions.domain.visibility import (
    Caller,
    ContentKind,
    ProcessParties,
    Relation,
    may_read,
    may_update,
    may_write,
    read_scope,
    relation_of,
)
from shared.auth.principal import APPROVER, BUYER_ADMIN, EMPLOYEE, PLATFORM_ADMIN, PROVIDER_ADMIN, SUPERVISOR

BUYER, PROVIDER = uuid.uuid4(), uuid.uuid4()
SUPERVISOR_ID, P1, P2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
COST_CENTRE = uuid.uuid4()
PROCESS = ProcessParties(
    uuid.uuid4(), BUYER, PROVIDER, SUPERVISOR_ID, frozenset({P1, P2}), cost_centre_id=COST_CENTRE
)
K = ContentKind


def _caller(
    person: uuid.UUID | None,
    tenant: uuid.UUID,
    *roles: str,
    client: bool = False,
    holds: frozenset[uuid.UUID] = frozenset(),
) -> Caller:
    roles_set = frozenset(roles)
    return Caller(person_id=person, tenant_id=tenant, roles=roles_set, is_client=client, approver_of=holds)


@pytest.mark.parametrize(
    ("caller", "relation"),
    [
        (_caller(SUPERVISOR_ID, PROVIDER, SUPERVISOR), Relation.SUPERVISOR),
        (_caller(SUPERVISOR_ID, PROVIDER, PROVIDER_ADMIN), Relation.NONE),  # not acting as supervisor
        (_caller(uuid.uuid4(), PROVIDER, SUPERVISOR), Relation.NONE),  # another supervisor
        (_caller(uuid.uuid4(), PROVIDER, PROVIDER_ADMIN), Relation.NONE),
        (_caller(P1, BUYER, EMPLOYEE), Relation.PARTICIPANT),
        (_caller(P2, BUYER, EMPLOYEE, APPROVER), Relation.PARTICIPANT),
        (_caller(uuid.uuid4(), BUYER, EMPLOYEE), Relation.NONE),  # an employee who does not take part
        (_caller(uuid.uuid4(), BUYER, BUYER_ADMIN), Relation.EMPLOYER),
        (_caller(uuid.uuid4(), BUYER, APPROVER, holds=frozenset({COST_CENTRE})), Relation.EMPLOYER),
        (_caller(uuid.uuid4(), BUYER, APPROVER), Relation.NONE),  # approves no cost centre
        (_caller(uuid.uuid4(), BUYER, APPROVER, holds=frozenset({uuid.uuid4()})), Relation.NONE),
        (_caller(None, BUYER, BUYER_ADMIN, client=True), Relation.NONE),  # a machine client
        (_caller(uuid.uuid4(), uuid.uuid4(), PLATFORM_ADMIN), Relation.NONE),
        (_caller(P1, uuid.uuid4(), EMPLOYEE), Relation.NONE),  # the same person id in another tenant
        (_caller(SUPERVISOR_ID, BUYER, SUPERVISOR), Relation.NONE),
    ],
)
def test_relation_to_a_process(caller: Caller, relation: Relation) -> None:
    assert relation_of(caller, PROCESS) is relation


# (relation, kind) -> (reads others' items, reads own items, writes)
EXPECTED = {
    (Relation.SUPERVISOR, K.PRIVATE_NOTE): (True, True, True),
    (Relation.SUPERVISOR, K.SHARED_NOTE): (True, True, True),
    (Relation.SUPERVISOR, K.REFLECTION): (False, False, False),
    (Relation.SUPERVISOR, K.GOAL): (True, True, True),
    (Relation.SUPERVISOR, K.PARTICIPANT_EVALUATION): (True, True, False),
    (Relation.SUPERVISOR, K.SUPERVISOR_EVALUATION): (True, True, True),
    (Relation.SUPERVISOR, K.SUMMARY): (True, True, True),
    (Relation.PARTICIPANT, K.PRIVATE_NOTE): (False, False, False),
    (Relation.PARTICIPANT, K.SHARED_NOTE): (True, True, False),
    (Relation.PARTICIPANT, K.REFLECTION): (False, True, True),
    (Relation.PARTICIPANT, K.GOAL): (False, True, True),  # others' goals: only the supervisor's
    (Relation.PARTICIPANT, K.PARTICIPANT_EVALUATION): (False, True, True),
    (Relation.PARTICIPANT, K.SUPERVISOR_EVALUATION): (True, True, False),
    (Relation.PARTICIPANT, K.SUMMARY): (True, True, False),
}


@pytest.mark.parametrize("relation", list(Relation))
@pytest.mark.parametrize("kind", list(ContentKind))
def test_the_visibility_table(relation: Relation, kind: ContentKind) -> None:
    others, own, writes = EXPECTED.get((relation, kind), (False, False, False))
    assert may_read(relation, kind, own=False) is others
    assert may_read(relation, kind, own=True) is own
    assert may_write(relation, kind) is writes
    assert may_update(relation, kind, own=True) is writes
    assert may_update(relation, kind, own=False) is False


def test_the_employer_reads_goals_only_when_every_participant_consented() -> None:
    assert not may_read(Relation.EMPLOYER, K.GOAL, own=False)
    assert may_read(Relation.EMPLOYER, K.GOAL, own=False, goals_consented=True)
    assert not may_read(Relation.EMPLOYER, K.SUMMARY, own=False, goals_consented=True)
    assert not may_read(Relation.NONE, K.GOAL, own=False, goals_consented=True)


def test_the_employer_reads_a_summary_only_when_every_participant_approved_it() -> None:
    assert not may_read(Relation.EMPLOYER, K.SUMMARY, own=False)
    assert may_read(Relation.EMPLOYER, K.SUMMARY, own=False, summary_approved=True)
    for kind in set(ContentKind) - {K.GOAL, K.SUMMARY}:
        assert not may_read(Relation.EMPLOYER, kind, own=False, goals_consented=True, summary_approved=True)


def test_a_participant_reads_the_supervisors_goals_and_their_own_not_another_participants() -> None:
    assert may_read(Relation.PARTICIPANT, K.GOAL, own=False, written_by_supervisor=True)
    assert may_read(Relation.PARTICIPANT, K.GOAL, own=True)
    assert not may_read(Relation.PARTICIPANT, K.GOAL, own=False)
    assert may_read(Relation.SUPERVISOR, K.GOAL, own=False)
    assert not may_read(Relation.EMPLOYER, K.GOAL, own=False, written_by_supervisor=True)


def test_the_supervisor_reads_a_reflection_only_when_its_author_shared_it() -> None:
    assert may_read(Relation.SUPERVISOR, K.REFLECTION, own=False, shared_with_supervisor=True)
    assert not may_read(Relation.PARTICIPANT, K.REFLECTION, own=False, shared_with_supervisor=True)


def test_read_scopes_match_the_rule() -> None:
    assert not read_scope(Relation.NONE).reads_anything
    employer = read_scope(Relation.EMPLOYER)
    assert employer.all_kinds == frozenset()
    assert employer.consented_goals
    assert employer.approved_summaries
    participant = read_scope(Relation.PARTICIPANT)
    assert K.REFLECTION in participant.own_kinds
    assert K.REFLECTION not in participant.all_kinds
    assert K.PRIVATE_NOTE not in participant.all_kinds | participant.own_kinds
    supervisor = read_scope(Relation.SUPERVISOR)
    assert supervisor.shared_reflections
    assert K.REFLECTION not in supervisor.all_kinds
