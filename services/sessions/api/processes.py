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

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from services.sessions.domain import processes as domain
from services.sessions.domain.processes import Actor, EvaluationKind, Process, ProcessStatus, TrialDecision
from services.sessions.handlers import processes as handlers
from shared.auth.guards import requires_role
from shared.auth.principal import APPROVER, BUYER_ADMIN, EMPLOYEE, PROVIDER_ADMIN, SUPERVISOR
from shared.contracts.orders import CancellationTermsFact, DeliveryMode, PriceItemFact, SupervisionForm
from shared.http.dependencies import Caller, Pool
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


READERS = [requires_role(BUYER_ADMIN, APPROVER, EMPLOYEE, PROVIDER_ADMIN, SUPERVISOR)]
SUPERVISORS = [requires_role(SUPERVISOR)]


class _Body(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    pass


class AgreementBody(_Body, frozen=True, kw_only=True):
    """The signed supervision agreement's frame (its parties are the process's)."""

    signed_at: Annotated[
        dt.datetime,
        msgspec.Meta(description="When the parties signed the supervision agreement (ohjaussopimus)"),
    ]
    mid_evaluation_on: Annotated[
        dt.date, msgspec.Meta(description="The day the mid-point evaluation is planned for")
    ]
    final_evaluation_on: Annotated[
        dt.date, msgspec.Meta(description="The day the final evaluation is planned for")
    ]
    trial_sessions: Annotated[
        Annotated[int, msgspec.Meta(ge=0, le=domain.MAX_TRIAL_SESSIONS)],
        msgspec.Meta(
            description=(
                "How many of the first sessions are a trial, after which the buyer decides to go on or stop"
            )
        ),
    ] = 0


class TrialDecisionBody(_Body, frozen=True, kw_only=True):
    decision: Annotated[
        TrialDecision,
        msgspec.Meta(description="Whether the process goes on after the trial sessions or stops"),
    ]


class EvaluationBody(_Body, frozen=True, kw_only=True):
    kind: Annotated[EvaluationKind, msgspec.Meta(description="Which evaluation was done: mid or final")]
    done_at: Annotated[dt.datetime, msgspec.Meta(description="When the evaluation was done")]


class PriceItemOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    duration_minutes: Annotated[
        int, msgspec.Meta(description="The session length the price is for, in minutes")
    ]
    mode: Annotated[
        DeliveryMode,
        msgspec.Meta(description="How a session at this price is delivered (on site, remote, …)"),
    ]
    unit: Annotated[str, msgspec.Meta(description="What the price is per: a session or an hour")]
    net_price_cents: Annotated[int, msgspec.Meta(description="The price before VAT, in euro cents")]


class AgreementOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    parties: Annotated[
        list[uuid.UUID],
        msgspec.Meta(description="The people (participants and supervisor) who are party to the agreement"),
    ]
    signed_at: Annotated[
        dt.datetime, msgspec.Meta(description="When the parties signed the supervision agreement")
    ]
    mid_evaluation_on: Annotated[
        dt.date, msgspec.Meta(description="The day the mid-point evaluation is planned for")
    ]
    final_evaluation_on: Annotated[
        dt.date, msgspec.Meta(description="The day the final evaluation is planned for")
    ]
    trial_sessions: Annotated[int, msgspec.Meta(description="How many of the first sessions are a trial")]


class EvaluationOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    kind: Annotated[EvaluationKind, msgspec.Meta(description="Which evaluation was done: mid or final")]
    done_at: Annotated[dt.datetime, msgspec.Meta(description="When the evaluation was done")]


class ProcessOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The supervision process's id")]
    order_id: Annotated[uuid.UUID, msgspec.Meta(description="The order the process carries out")]
    buyer_id: Annotated[uuid.UUID, msgspec.Meta(description="The buyer tenant")]
    provider_id: Annotated[uuid.UUID, msgspec.Meta(description="The provider tenant")]
    supervisor_id: Annotated[uuid.UUID, msgspec.Meta(description="The supervisor (person id) who supervises")]
    cost_centre_id: Annotated[uuid.UUID, msgspec.Meta(description="The buyer's cost centre that pays")]
    agreement_id: Annotated[
        uuid.UUID, msgspec.Meta(description="The framework agreement the order was made under")
    ]
    lot: Annotated[str, msgspec.Meta(description="The agreement lot")]
    form: Annotated[
        SupervisionForm, msgspec.Meta(description="The supervision form (individual, group, team, …)")
    ]
    participants: Annotated[
        list[uuid.UUID] | None,
        msgspec.Meta(
            description="The participants (person ids); absent for callers who may not see who takes part"
        ),
    ]
    planned_sessions: Annotated[
        int, msgspec.Meta(description="How many sessions the order allows, extensions included")
    ]
    allowed_sessions: Annotated[
        list[PriceItemOut],
        msgspec.Meta(
            description="The session lengths and modes the order's price list allows, with their prices"
        ),
    ]
    cancellation: Annotated[
        CancellationTermsFact,
        msgspec.Meta(description="What late cancellations and no-shows cost, from the agreement"),
    ]
    starts_on: Annotated[dt.date, msgspec.Meta(description="The first day of the supervision period")]
    ends_on: Annotated[dt.date, msgspec.Meta(description="The last day of the supervision period")]
    accepted_at: Annotated[
        dt.datetime, msgspec.Meta(description="When the provider accepted the order and the process began")
    ]
    status: Annotated[
        ProcessStatus, msgspec.Meta(description="Where the process is: open, in trial, running, closed, …")
    ]
    outcome: Annotated[
        domain.ProcessOutcome | None,
        msgspec.Meta(description="How the process ended (completed, interrupted, …); absent while it runs"),
    ]
    closed_at: Annotated[
        dt.datetime | None, msgspec.Meta(description="When the process closed; absent while it runs")
    ]
    agreement: Annotated[
        AgreementOut | None,
        msgspec.Meta(description="The supervision agreement, once the parties have signed it"),
    ]
    trial_decision: Annotated[
        TrialDecision | None, msgspec.Meta(description="The decision after the trial sessions, once made")
    ]
    evaluations: Annotated[
        list[EvaluationOut], msgspec.Meta(description="The evaluations done so far (mid, final)")
    ]
    version: Annotated[
        int, msgspec.Meta(description="The process's version; its ETag, to send back as If-Match")
    ]


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
