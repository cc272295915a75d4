"""Who may read and write which content of a supervision process (domain.md, "Who may see what").

A pure function of the caller's relationship to the process, the content kind and whether the
item is the caller's own. The store repeats the same rule in its queries (:class:`ReadScope`), so
a handler that forgot to ask would still get nothing it may not see.

| kind                   | writes          | supervisor     | participant | employer (buyer admin, approver) |
|------------------------|-----------------|----------------|-------------|----------------------------------|
| private_note           | supervisor      | yes            | no          | never                            |
| shared_note            | supervisor      | yes            | yes         | never                            |
| reflection             | participant own | only if shared | own only    | never                            |
| goal                   | both            | yes            | own + sup's | once every participant consents  |
| participant_evaluation | participant own | yes            | own only    | never                            |
| supervisor_evaluation  | supervisor      | yes            | yes         | never                            |
| summary                | supervisor      | yes            | yes         | once every participant approved  |

Goals the supervisor writes are the process's goals: every participant reads them. A goal a
participant writes is theirs: they and the supervisor read it (the employer only under the consent
rule), the other participants do not (domain.md: a participant reads "own" goals).

Everyone else — provider admins, other supervisors, employees who are not participants, machine
clients, platform admins, any other tenant — reads and writes no content at all.

Cancellations are frame, not content, but an illness-exempt late cancellation would still tell the
employer that someone was ill: the invoice bills a late cancellation with another reason and leaves
the exempt one out. So only the process's supervisor and its participants read a cancellation's
whole truth (:func:`shown_cancellation_category`; the reason's category and ``charge_exempt`` are
the supervisor's alone). Everyone else — buyer admins, approvers, provider admins, and the public
events integrations sends to HR systems — reads ``late`` only for a charged late cancellation; an
exempt late cancellation reads as ``on_time``, exactly like a free one, and the moment of
cancelling (which with the order's threshold would give "late" away) is not shown to them. What the
employer may infer: that a session was cancelled and whether it is charged — which the invoice tells
anyway — never whether a free cancellation was in time or excused by illness.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from shared.auth.principal import APPROVER, BUYER_ADMIN, SUPERVISOR
from shared.contracts.sessions import CancellationCategory

__all__ = [
    "Caller",
    "ContentKind",
    "ProcessParties",
    "ReadScope",
    "Relation",
    "may_read",
    "may_update",
    "may_write",
    "read_scope",
    "relation_of",
    "shown_cancellation_category",
]


class ContentKind(enum.StrEnum):
    PRIVATE_NOTE = "private_note"
    SHARED_NOTE = "shared_note"
    REFLECTION = "reflection"
    GOAL = "goal"
    PARTICIPANT_EVALUATION = "participant_evaluation"
    SUPERVISOR_EVALUATION = "supervisor_evaluation"
    SUMMARY = "summary"


class Relation(enum.StrEnum):
    SUPERVISOR = "supervisor"
    """The process's own supervisor, acting for its provider."""
    PARTICIPANT = "participant"
    """One of the process's participants, acting for its buyer."""
    EMPLOYER = "employer"
    """A buyer admin of the process's buyer, or an approver of its cost centre, not a participant."""
    NONE = "none"


@dataclass(frozen=True)
class Caller:
    """The verified caller, as far as content is concerned."""

    person_id: uuid.UUID | None
    """The token's subject as a person id; None for machine clients and non-person subjects."""
    tenant_id: uuid.UUID
    roles: frozenset[str]
    is_client: bool = False
    approver_of: frozenset[uuid.UUID] = frozenset()
    """The cost centres the caller holds as an approver."""


@dataclass(frozen=True)
class ProcessParties:
    process_id: uuid.UUID
    buyer_id: uuid.UUID
    provider_id: uuid.UUID
    supervisor_id: uuid.UUID
    participants: frozenset[uuid.UUID]
    cost_centre_id: uuid.UUID | None = None


def relation_of(caller: Caller, process: ProcessParties) -> Relation:
    if caller.is_client or caller.person_id is None:
        return Relation.NONE
    if (
        caller.tenant_id == process.provider_id
        and caller.person_id == process.supervisor_id
        and SUPERVISOR in caller.roles
    ):
        return Relation.SUPERVISOR
    if caller.tenant_id == process.buyer_id:
        if caller.person_id in process.participants:
            return Relation.PARTICIPANT
        if BUYER_ADMIN in caller.roles:
            return Relation.EMPLOYER
        if APPROVER in caller.roles and process.cost_centre_id in caller.approver_of:
            return Relation.EMPLOYER  # an approver only of the cost centres they hold
    return Relation.NONE


_WRITERS: dict[ContentKind, frozenset[Relation]] = {
    ContentKind.PRIVATE_NOTE: frozenset({Relation.SUPERVISOR}),
    ContentKind.SHARED_NOTE: frozenset({Relation.SUPERVISOR}),
    ContentKind.REFLECTION: frozenset({Relation.PARTICIPANT}),
    ContentKind.GOAL: frozenset({Relation.SUPERVISOR, Relation.PARTICIPANT}),
    ContentKind.PARTICIPANT_EVALUATION: frozenset({Relation.PARTICIPANT}),
    ContentKind.SUPERVISOR_EVALUATION: frozenset({Relation.SUPERVISOR}),
    ContentKind.SUMMARY: frozenset({Relation.SUPERVISOR}),
}

# Kinds a relation reads whoever wrote them, and kinds it reads only when they are its own.
_READS_ALL: dict[Relation, frozenset[ContentKind]] = {
    Relation.SUPERVISOR: frozenset(ContentKind) - {ContentKind.REFLECTION},
    Relation.PARTICIPANT: frozenset(
        {
            ContentKind.SHARED_NOTE,
            ContentKind.SUPERVISOR_EVALUATION,
            ContentKind.SUMMARY,
        }
    ),
    Relation.EMPLOYER: frozenset(),
    Relation.NONE: frozenset(),
}
_READS_OWN: dict[Relation, frozenset[ContentKind]] = {
    Relation.SUPERVISOR: frozenset(),
    Relation.PARTICIPANT: frozenset(
        {ContentKind.REFLECTION, ContentKind.PARTICIPANT_EVALUATION, ContentKind.GOAL}
    ),
    Relation.EMPLOYER: frozenset(),
    Relation.NONE: frozenset(),
}


def may_write(relation: Relation, kind: ContentKind) -> bool:
    """May this relation create an item of ``kind`` (as its own)?"""
    return relation in _WRITERS[kind]


def may_update(relation: Relation, kind: ContentKind, *, own: bool) -> bool:
    """Only an item's author changes it, and only while they may still write its kind."""
    return own and may_write(relation, kind)


def may_read(
    relation: Relation,
    kind: ContentKind,
    *,
    own: bool,
    shared_with_supervisor: bool = False,
    goals_consented: bool = False,
    summary_approved: bool = False,
    written_by_supervisor: bool = False,
) -> bool:
    """May this relation read one item of ``kind``?

    ``goals_consented``: every participant agreed to show the goals to the employer;
    ``summary_approved``: every participant approved this summary;
    ``written_by_supervisor``: the item's owner is the process's supervisor.
    """
    if kind in _READS_ALL[relation] or (own and kind in _READS_OWN[relation]):
        return True
    if relation is Relation.PARTICIPANT and kind is ContentKind.GOAL:
        return written_by_supervisor  # the process's goals, not another participant's own
    if relation is Relation.SUPERVISOR and kind is ContentKind.REFLECTION:
        return shared_with_supervisor
    if relation is Relation.EMPLOYER:
        return (kind is ContentKind.GOAL and goals_consented) or (
            kind is ContentKind.SUMMARY and summary_approved
        )
    return False


@dataclass(frozen=True)
class ReadScope:
    """The read rule of one relation as query parameters (see ``store.content``)."""

    all_kinds: frozenset[ContentKind]
    own_kinds: frozenset[ContentKind]
    shared_reflections: bool
    """Reflections their owners shared with the supervisor."""
    consented_goals: bool
    """Goals, only if every participant consented (the query checks it too)."""
    approved_summaries: bool
    """Summaries every participant approved (the query checks each)."""
    supervisors_goals: bool = False
    """Goals the process's supervisor wrote (the query checks the owner against the process)."""

    @property
    def reads_anything(self) -> bool:
        return bool(
            self.all_kinds
            or self.own_kinds
            or self.shared_reflections
            or self.consented_goals
            or self.approved_summaries
            or self.supervisors_goals
        )


def read_scope(relation: Relation) -> ReadScope:
    return ReadScope(
        all_kinds=_READS_ALL[relation],
        own_kinds=_READS_OWN[relation],
        shared_reflections=relation is Relation.SUPERVISOR,
        consented_goals=relation is Relation.EMPLOYER,
        approved_summaries=relation is Relation.EMPLOYER,
        supervisors_goals=relation is Relation.PARTICIPANT,
    )


def shown_cancellation_category(
    category: CancellationCategory, *, charge_exempt: bool, whole: bool
) -> CancellationCategory:
    """The category a reader sees: an exempt late cancellation is ``on_time`` to anyone who does not
    read the whole truth, so a free cancellation never singles out an illness."""
    if not whole and category == "late" and charge_exempt:
        return "on_time"
    return category
