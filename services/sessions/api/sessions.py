"""Sessions of a process over HTTP.

The readers of a process read its sessions: dates, durations, mode, held / cancelled (on time,
late, by the supervisor) / no-show and attendance. The category of a cancellation's reason is shown
to the process's supervisor only — never to the buyer or the provider's admins. Only the supervisor
and the participants read a cancellation as it was; to everyone else an illness-exempt late
cancellation reads as on time, and when it was cancelled is not shown (``domain.visibility``). The process's
supervisor schedules (``Idempotency-Key``: the same key and body answer the same session, another
body 422) and changes sessions (``If-Match``: a stale ETag is 412). 403 for a reader who is not the
supervisor, 404 for anyone who may not see the process, 422 naming the field, 409 for the wrong state
or a full count.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from services.sessions.api.processes import READERS, SUPERVISORS
from services.sessions.domain import processes as process_rules
from services.sessions.domain.processes import Actor, Process
from services.sessions.domain.sessions import (
    Attendance,
    CancelledBy,
    ReasonCategory,
    Session,
    SessionStatus,
)
from services.sessions.domain.visibility import shown_cancellation_category
from services.sessions.handlers import sessions as handlers
from shared.contracts.orders import DeliveryMode
from shared.contracts.sessions import CancellationCategory
from shared.http.dependencies import Caller, Pool
from shared.http.idempotency import IdempotencyKey, request_hash
from shared.http.pagination import Page, PageSize
from shared.http.versions import IfMatch, expected_version, versioned

__all__ = [
    "AttendanceBody",
    "CancelBody",
    "HeldBody",
    "ScheduleBody",
    "SessionController",
    "SessionOut",
]


Minutes = Annotated[int, msgspec.Meta(ge=1, le=480)]


class _Body(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    pass


class ScheduleBody(_Body, frozen=True, kw_only=True):
    starts_at: Annotated[
        dt.datetime, msgspec.Meta(description="When the session starts (with a time zone offset)")
    ]
    duration_minutes: Annotated[
        Minutes,
        msgspec.Meta(
            description=(
                "How long the session is, in minutes; one of the lengths the order's price list allows"
            )
        ),
    ]
    mode: Annotated[
        DeliveryMode, msgspec.Meta(description="How the session is delivered (on site, remote, …)")
    ]


class AttendanceBody(_Body, frozen=True, kw_only=True):
    person_id: Annotated[uuid.UUID, msgspec.Meta(description="The participant")]
    attended: Annotated[bool, msgspec.Meta(description="Whether the participant attended")]


class HeldBody(_Body, frozen=True, kw_only=True):
    attendance: Annotated[
        Annotated[list[AttendanceBody], msgspec.Meta(min_length=1, max_length=50)],
        msgspec.Meta(description="Who of the participants attended the session"),
    ]


class CancelBody(_Body, frozen=True, kw_only=True):
    cancelled_by: Annotated[
        CancelledBy,
        msgspec.Meta(description="Who cancelled: the buyer's side, the provider's side or a participant"),
    ]
    reason_category: Annotated[
        ReasonCategory,
        msgspec.Meta(
            description=(
                "The reason's category (illness, work, other, …); the reason in words is content "
                "and not taken"
            )
        ),
    ]


class AttendanceOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    person_id: Annotated[uuid.UUID, msgspec.Meta(description="The participant")]
    attended: Annotated[bool, msgspec.Meta(description="Whether the participant attended")]


class CancellationOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True, omit_defaults=True):
    cancelled_by: Annotated[CancelledBy, msgspec.Meta(description="Who cancelled")]
    category: Annotated[
        CancellationCategory,
        msgspec.Meta(
            description=(
                "Whether the cancellation was in time or late under the agreement's terms. The "
                "process's supervisor and its participants read it as it was; to everyone else "
                "(buyer admins, approvers, provider admins) `late` means a charged late "
                "cancellation and a late cancellation the terms exempt (illness) reads `on_time`, "
                "like a free one, so the employer learns whether it is charged and never that "
                "someone was ill."
            )
        ),
    ]
    cancelled_at: Annotated[
        dt.datetime | None,
        msgspec.Meta(
            description=(
                "When the session was cancelled; shown to the process's supervisor and its "
                "participants only (with the order's threshold it would tell an exempt late "
                "cancellation from a free one), absent for everyone else."
            )
        ),
    ] = None
    charge_exempt: Annotated[
        bool | None,
        msgspec.Meta(
            description=(
                "Whether the terms exempt this cancellation (illness, when the terms say so): it "
                "reveals the reason, so the process's supervisor's to see; absent for everyone "
                "else."
            )
        ),
    ] = None
    reason_category: Annotated[
        ReasonCategory | None,
        msgspec.Meta(description="The process's supervisor's to see; absent for everyone else."),
    ] = None


class SessionOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The session's id")]
    process_id: Annotated[
        uuid.UUID, msgspec.Meta(description="The supervision process the session belongs to")
    ]
    starts_at: Annotated[dt.datetime, msgspec.Meta(description="When the session starts")]
    ends_at: Annotated[dt.datetime, msgspec.Meta(description="When the session ends")]
    duration_minutes: Annotated[int, msgspec.Meta(description="How long the session is, in minutes")]
    mode: Annotated[
        DeliveryMode, msgspec.Meta(description="How the session is delivered (on site, remote, …)")
    ]
    trial: Annotated[
        bool, msgspec.Meta(description="Whether the session is one of the process's trial sessions")
    ]
    status: Annotated[SessionStatus, msgspec.Meta(description="scheduled, held, cancelled or no-show")]
    attendance: Annotated[
        list[AttendanceOut] | None,
        msgspec.Meta(
            description="Who attended, once the session is held; absent for callers who may not see it"
        ),
    ]
    cancellation: Annotated[
        CancellationOut | None, msgspec.Meta(description="How the session was cancelled, if it was")
    ]
    version: Annotated[
        int, msgspec.Meta(description="The session's version; its ETag, to send back as If-Match")
    ]


def _sees_whole_cancellation(process: Process, viewer: Actor) -> bool:
    """The supervisor and the participants read a cancellation as it was (``domain.visibility``)."""
    return process_rules.is_supervisor_of(process, viewer) or (
        viewer.tenant_id == process.buyer_id and viewer.person_id in process.participants
    )


def session_out(process: Process, session: Session, viewer: Actor) -> SessionOut:
    c = session.cancellation
    whole = _sees_whole_cancellation(process, viewer)
    return SessionOut(
        id=session.session_id,
        process_id=session.process_id,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        duration_minutes=session.duration_minutes,
        mode=session.mode,
        trial=session.trial,
        status=session.status,
        attendance=[AttendanceOut(person_id=a.person_id, attended=a.attended) for a in session.attendance]
        if process_rules.sees_participants(process, viewer)
        else None,
        cancellation=None
        if c is None
        else CancellationOut(
            cancelled_by=c.cancelled_by,
            cancelled_at=c.cancelled_at if whole else None,
            category=shown_cancellation_category(c.category, charge_exempt=c.charge_exempt, whole=whole),
            charge_exempt=c.charge_exempt if process_rules.is_supervisor_of(process, viewer) else None,
            reason_category=c.reason_category if process_rules.is_supervisor_of(process, viewer) else None,
        ),
        version=session.version,
    )


def _as_supervisor(session: Session) -> SessionOut:
    """A write's answer: only the process's supervisor writes, so they see it whole."""
    return SessionOut(
        id=session.session_id,
        process_id=session.process_id,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        duration_minutes=session.duration_minutes,
        mode=session.mode,
        trial=session.trial,
        status=session.status,
        attendance=[AttendanceOut(person_id=a.person_id, attended=a.attended) for a in session.attendance],
        cancellation=None
        if session.cancellation is None
        else CancellationOut(
            cancelled_by=session.cancellation.cancelled_by,
            cancelled_at=session.cancellation.cancelled_at,
            category=session.cancellation.category,
            charge_exempt=session.cancellation.charge_exempt,
            reason_category=session.cancellation.reason_category,
        ),
        version=session.version,
    )


def _written(session: Session, status_code: int = 200) -> Response[SessionOut]:
    return versioned(_as_supervisor(session), session.version, status_code)


class SessionController(Controller):
    """Sessions (tapaamiset) of a supervision process."""

    path = "/"
    tags = ["sessions"]

    @get(
        "/processes/{process_id:uuid}/sessions",
        operation_id="listProcessSessions",
        summary="The process's sessions by start time",
        guards=READERS,
    )
    async def index(
        self,
        process_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
    ) -> Page[SessionOut]:
        process, rows, next_cursor, actor = await handlers.list_sessions(
            pool, principal, process_id, cursor=cursor, limit=limit
        )
        return Page(items=[session_out(process, s, actor) for s in rows], next_cursor=next_cursor)

    @post(
        "/processes/{process_id:uuid}/sessions",
        operation_id="scheduleSession",
        summary="The process's supervisor schedules a session",
        guards=SUPERVISORS,
    )
    async def schedule(
        self,
        process_id: FromPath[uuid.UUID],
        data: JSONBody[ScheduleBody],
        pool: Pool,
        principal: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SessionOut]:
        body_hash = request_hash(
            principal.subject, str(process_id).encode() + b"\0" + msgspec.json.encode(data)
        )
        session = await handlers.schedule_session(
            pool,
            principal,
            process_id,
            starts_at=data.starts_at,
            duration_minutes=data.duration_minutes,
            mode=data.mode,
            idempotency_key=idempotency_key,
            body_hash=body_hash,
        )
        return _written(session, status_code=201)

    @get("/sessions/{session_id:uuid}", operation_id="getSession", summary="One session", guards=READERS)
    async def read(
        self, session_id: FromPath[uuid.UUID], pool: Pool, principal: Caller
    ) -> Response[SessionOut]:
        process, session, actor = await handlers.get_session(pool, principal, session_id)
        return versioned(session_out(process, session, actor), session.version)

    @post(
        "/sessions/{session_id:uuid}/reschedule",
        operation_id="rescheduleSession",
        summary="Move a scheduled session, or change its duration or mode",
        guards=SUPERVISORS,
        status_code=200,
    )
    async def reschedule(
        self,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[ScheduleBody],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[SessionOut]:
        session = await handlers.reschedule_session(
            pool,
            principal,
            session_id,
            starts_at=data.starts_at,
            duration_minutes=data.duration_minutes,
            mode=data.mode,
            expected_version=expected_version(if_match),
        )
        return _written(session)

    @post(
        "/sessions/{session_id:uuid}/held",
        operation_id="markSessionHeld",
        summary="Held, with attendance for every participant",
        guards=SUPERVISORS,
        status_code=200,
    )
    async def held(
        self,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[HeldBody],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[SessionOut]:
        attendance = [Attendance(person_id=a.person_id, attended=a.attended) for a in data.attendance]
        session = await handlers.mark_held(
            pool, principal, session_id, attendance, expected_version=expected_version(if_match)
        )
        return _written(session)

    @post(
        "/sessions/{session_id:uuid}/cancel",
        operation_id="cancelSession",
        summary="Cancelled: on time, late or by the supervisor, decided from the order's terms and the clock",
        guards=SUPERVISORS,
        status_code=200,
    )
    async def cancel(
        self,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[CancelBody],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[SessionOut]:
        session = await handlers.cancel_session(
            pool,
            principal,
            session_id,
            cancelled_by=data.cancelled_by,
            reason_category=data.reason_category,
            expected_version=expected_version(if_match),
        )
        return _written(session)

    @post(
        "/sessions/{session_id:uuid}/no-show",
        operation_id="recordSessionNoShow",
        summary="Nobody came and nobody cancelled",
        guards=SUPERVISORS,
        status_code=200,
    )
    async def no_show(
        self,
        session_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[SessionOut]:
        session = await handlers.record_no_show(
            pool, principal, session_id, expected_version=expected_version(if_match)
        )
        return _written(session)
