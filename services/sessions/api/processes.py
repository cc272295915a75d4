"""Supervision processes over HTTP: the frame of each accepted order, as the caller may see it.

Every route acts as the caller's tenant (from the token). A process is shared by its buyer and its
provider; its supervisor and the provider's admins, the buyer's admins and approvers, and its
participants read it — anyone else gets 404, as if it did not exist. Writes are the process's
supervisor's (403 for the others who may read it) and take ``If-Match`` (a stale ETag is 412).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from services.sessions.domain import processes as domain
from services.sessions.domain.processes import Actor, EvaluationKind, Process, ProcessStatus, TrialDecision
from services.sessions.handlers import processes as handlers
from shared.auth.guards import provide_principal, requires_role
from shared.auth.principal import APPROVER, BUYER_ADMIN, EMPLOYEE, PROVIDER_ADMIN, SUPERVISOR, Principal
from shared.contracts.orders import CancellationTermsFact, DeliveryMode, PriceItemFact, SupervisionForm
from shared.http.pagination import Page, PageSize
from shared.http.versions import IfMatch, expected_version, versioned

__all__ = [
    "READERS",
    "SUPERVISORS",
    "AgreementBody",
    "EvaluationBody",
    "ProcessController",
    "ProcessOut",
    "TrialDecisionBody",
]

Pool = NamedDependency[asyncpg.Pool]
Caller = NamedDependency[Principal]

READERS = [requires_role(BUYER_ADMIN, APPROVER, EMPLOYEE, PROVIDER_ADMIN, SUPERVISOR)]
SUPERVISORS = [requires_role(SUPERVISOR)]


class _Body(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    pass


class AgreementBody(_Body, frozen=True, kw_only=True):
    """The signed supervision agreement's frame (its parties are the process's)."""

    signed_at: dt.datetime
    mid_evaluation_on: dt.date
    final_evaluation_on: dt.date
    trial_sessions: Annotated[int, msgspec.Meta(ge=0, le=domain.MAX_TRIAL_SESSIONS)] = 0


class TrialDecisionBody(_Body, frozen=True, kw_only=True):
    decision: TrialDecision


class EvaluationBody(_Body, frozen=True, kw_only=True):
    kind: EvaluationKind
    done_at: dt.datetime


class PriceItemOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    duration_minutes: int
    mode: DeliveryMode
    unit: str
    net_price_cents: int


class AgreementOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    parties: list[uuid.UUID]
    """The buyer (tenant id), the supervisor and the participants (person ids)."""
    signed_at: dt.datetime
    mid_evaluation_on: dt.date
    final_evaluation_on: dt.date
    trial_sessions: int


class EvaluationOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    kind: EvaluationKind
    done_at: dt.datetime


class ProcessOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    id: uuid.UUID
    order_id: uuid.UUID
    buyer_id: uuid.UUID
    provider_id: uuid.UUID
    supervisor_id: uuid.UUID
    cost_centre_id: uuid.UUID
    agreement_id: uuid.UUID
    lot: str
    form: SupervisionForm
    participants: list[uuid.UUID] | None
    """Hidden (null) from buyer admins for individual supervision: who takes part is the approver's."""
    planned_sessions: int
    allowed_sessions: list[PriceItemOut]
    """The durations and delivery modes the snapshotted price list allows, with their prices."""
    cancellation: CancellationTermsFact
    starts_on: dt.date
    ends_on: dt.date
    accepted_at: dt.datetime
    status: ProcessStatus
    outcome: domain.ProcessOutcome | None
    closed_at: dt.datetime | None
    agreement: AgreementOut | None
    trial_decision: TrialDecision | None
    evaluations: list[EvaluationOut]
    version: int


def _price(item: PriceItemFact) -> PriceItemOut:
    return PriceItemOut(
        duration_minutes=item.duration_minutes,
        mode=item.mode,
        unit=item.unit,
        net_price_cents=item.net_price_cents,
    )


def process_out(process: Process, viewer: Actor) -> ProcessOut:
    agreement = process.agreement
    return ProcessOut(
        id=process.process_id,
        order_id=process.order_id,
        buyer_id=process.buyer_id,
        provider_id=process.provider_id,
        supervisor_id=process.supervisor_id,
        cost_centre_id=process.cost_centre_id,
        agreement_id=process.agreement_id,
        lot=process.lot,
        form=process.form,
        participants=list(process.participants) if domain.sees_participants(process, viewer) else None,
        planned_sessions=process.planned_sessions,
        allowed_sessions=[_price(item) for item in process.price_list],
        cancellation=process.cancellation,
        starts_on=process.starts_on,
        ends_on=process.ends_on,
        accepted_at=process.accepted_at,
        status=process.status,
        outcome=process.outcome,
        closed_at=process.closed_at,
        agreement=None
        if agreement is None
        else AgreementOut(
            parties=[
                process.buyer_id,
                process.supervisor_id,
                *(process.participants if domain.sees_participants(process, viewer) else ()),
            ],
            signed_at=agreement.signed_at,
            mid_evaluation_on=agreement.mid_evaluation_on,
            final_evaluation_on=agreement.final_evaluation_on,
            trial_sessions=agreement.trial_sessions,
        ),
        trial_decision=process.trial_decision,
        evaluations=[EvaluationOut(kind=e.kind, done_at=e.done_at) for e in process.evaluations],
        version=process.version,
    )


def _versioned(process: Process, viewer: Actor) -> Response[ProcessOut]:
    return versioned(process_out(process, viewer), process.version)


class ProcessController(Controller):
    """Supervision processes (työnohjausprosessit), opened when the provider accepts an order."""

    path = "/processes"
    tags = ["processes"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/", operation_id="listProcesses", summary="The processes the caller may see", guards=READERS)
    async def index(
        self,
        pool: Pool,
        principal: Caller,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
        status: FromQuery[ProcessStatus | None] = None,
    ) -> Page[ProcessOut]:
        rows, next_cursor, actor = await handlers.list_processes(
            pool, principal, cursor=cursor, limit=limit, status=status
        )
        return Page(items=[process_out(p, actor) for p in rows], next_cursor=next_cursor)

    @get("/{process_id:uuid}", operation_id="getProcess", summary="One process", guards=READERS)
    async def read(
        self, process_id: FromPath[uuid.UUID], pool: Pool, principal: Caller
    ) -> Response[ProcessOut]:
        process, actor = await handlers.get_process(pool, principal, process_id)
        return _versioned(process, actor)

    @post(
        "/{process_id:uuid}/agreement",
        operation_id="recordProcessAgreement",
        summary="The supervisor records the signed supervision agreement (once)",
        guards=SUPERVISORS,
        status_code=200,
    )
    async def agreement(
        self,
        process_id: FromPath[uuid.UUID],
        data: JSONBody[AgreementBody],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[ProcessOut]:
        agreement = domain.SupervisionAgreement(
            signed_at=data.signed_at,
            mid_evaluation_on=data.mid_evaluation_on,
            final_evaluation_on=data.final_evaluation_on,
            trial_sessions=data.trial_sessions,
        )
        process = await handlers.record_agreement(
            pool, principal, process_id, agreement, expected_version=expected_version(if_match)
        )
        return _versioned(process, handlers.actor_of(principal))

    @post(
        "/{process_id:uuid}/trial-decision",
        operation_id="decideProcessTrial",
        summary="Go or no-go after the trial sessions",
        guards=SUPERVISORS,
        status_code=200,
    )
    async def trial_decision(
        self,
        process_id: FromPath[uuid.UUID],
        data: JSONBody[TrialDecisionBody],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[ProcessOut]:
        process = await handlers.decide_trial(
            pool, principal, process_id, data.decision, expected_version=expected_version(if_match)
        )
        return _versioned(process, handlers.actor_of(principal))

    @post(
        "/{process_id:uuid}/evaluations",
        operation_id="recordProcessEvaluation",
        summary="That the mid-point or final evaluation took place (the fact and its date only)",
        guards=SUPERVISORS,
        status_code=200,
    )
    async def evaluation(
        self,
        process_id: FromPath[uuid.UUID],
        data: JSONBody[EvaluationBody],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[ProcessOut]:
        process = await handlers.record_evaluation(
            pool, principal, process_id, data.kind, data.done_at, expected_version=expected_version(if_match)
        )
        return _versioned(process, handlers.actor_of(principal))
