"""The rules of processes and sessions, without servers: the ordered count and its extension, the
price list's durations and modes, the trial gate, the cancellation categories at the threshold."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import pytest

from services.sessions.domain import processes as rules
from services.sessions.domain import sessions as sessions_rules
from services.sessions.domain.processes import Actor, Process, Role, SupervisionAgreement
from services.sessions.domain.sessions import Attendance, Session, SessionStatus
from shared.contracts import orders as orders_events
from tests.sessions.support import NOW, TERMS, Parties, order_event, price_item

ACCEPTED = NOW - dt.timedelta(days=30)


def _process(parties: Parties | None = None, **fields: object) -> Process:
    parties = parties or Parties()
    event = order_event(orders_events.OrderAccepted, parties, **fields)  # type: ignore[arg-type]
    assert isinstance(event, orders_events.OrderAccepted)
    return rules.open_process(uuid.uuid4(), event, accepted_at=ACCEPTED, order_version=6)


def _supervisor(process: Process) -> Actor:
    return Actor(
        person_id=process.supervisor_id, tenant_id=process.provider_id, roles=frozenset({Role.SUPERVISOR})
    )


def _schedule(
    process: Process,
    sessions: list[Session],
    *,
    starts_at: dt.datetime = NOW + dt.timedelta(days=7),
    duration: int = 90,
    mode: orders_events.DeliveryMode = "remote",
) -> Session:
    session = sessions_rules.schedule(
        process,
        sessions,
        _supervisor(process),
        session_id=uuid.uuid4(),
        starts_at=starts_at,
        duration_minutes=duration,
        mode=mode,
    )
    sessions.append(session)
    return session


def _held(process: Process, sessions: list[Session], session: Session) -> Session:
    attendance = [Attendance(person_id=p, attended=True) for p in process.participants]
    held = sessions_rules.mark_held(
        process, sessions, session, _supervisor(process), attendance, now=session.ends_at
    )
    sessions[sessions.index(session)] = held
    return held


def _cancel(
    process: Process,
    session: Session,
    now: dt.datetime,
    *,
    by: sessions_rules.CancelledBy = "participant",
    reason: sessions_rules.ReasonCategory = "work_shift",
) -> Session:
    return sessions_rules.cancel(
        process, session, _supervisor(process), cancelled_by=by, reason_category=reason, now=now
    )


# --- opening a process ---


def test_a_process_snapshots_the_accepted_orders_frame() -> None:
    parties = Parties()
    process = _process(parties, planned_sessions=6)
    assert (process.order_id, process.buyer_id, process.provider_id) == (
        parties.order_id,
        parties.buyer_id,
        parties.provider_id,
    )
    assert process.supervisor_id == parties.supervisor_id
    assert process.participants == tuple(parties.participants)
    assert process.planned_sessions == 6
    assert {(i.duration_minutes, i.mode) for i in process.price_list} == {
        (90, "remote"),
        (90, "at_buyer"),
        (60, "remote"),
    }
    assert process.cancellation == TERMS
    assert process.accepted_at == ACCEPTED


def test_a_process_falls_back_on_the_orders_price_when_its_price_list_is_empty() -> None:
    process = _process(price_list=[], price=price_item(45, "at_supervisor", 9000))
    assert [(i.duration_minutes, i.mode) for i in process.price_list] == [(45, "at_supervisor")]


def test_an_accepted_order_without_supervisor_or_terms_opens_no_process() -> None:
    event = order_event(orders_events.OrderAccepted, Parties())
    assert isinstance(event, orders_events.OrderAccepted)
    with pytest.raises(rules.RuleBroken):
        rules.open_process(
            uuid.uuid4(), msgspec.structs.replace(event, supervisor_id=None), accepted_at=NOW, order_version=1
        )
    with pytest.raises(rules.RuleBroken):
        rules.open_process(
            uuid.uuid4(), msgspec.structs.replace(event, cancellation=None), accepted_at=NOW, order_version=1
        )


# --- scheduling ---


def test_scheduling_beyond_the_ordered_count_is_refused() -> None:
    process = _process(planned_sessions=2)
    sessions: list[Session] = []
    _schedule(process, sessions)
    _schedule(process, sessions)
    with pytest.raises(rules.WrongState, match="2 ordered sessions"):
        _schedule(process, sessions)


def test_an_approved_extension_raises_the_cap() -> None:
    parties = Parties()
    process = _process(parties, planned_sessions=1)
    sessions: list[Session] = []
    _schedule(process, sessions)
    with pytest.raises(rules.WrongState):
        _schedule(process, sessions)
    extended_event = order_event(
        orders_events.OrderExtended, parties, planned_sessions=3, additional_sessions=2
    )
    extended = rules.extend(process, extended_event, order_version=7)
    assert extended.planned_sessions == 3
    _schedule(extended, sessions)
    _schedule(extended, sessions)
    with pytest.raises(rules.WrongState):
        _schedule(extended, sessions)


def test_an_older_or_repeated_extension_changes_nothing() -> None:
    parties = Parties()
    process = _process(parties, planned_sessions=4)
    extended = rules.extend(
        process,
        order_event(orders_events.OrderExtended, parties, planned_sessions=6, additional_sessions=2),
        order_version=8,
    )
    again = rules.extend(
        extended,
        order_event(orders_events.OrderExtended, parties, planned_sessions=5, additional_sessions=1),
        order_version=7,
    )
    assert (again.planned_sessions, again is extended) == (6, True)


def test_a_duration_the_price_list_does_not_allow_is_refused() -> None:
    process = _process()
    with pytest.raises(rules.RuleBroken) as refused:
        _schedule(process, [], duration=120)
    assert refused.value.field == "body.durationMinutes"
    with pytest.raises(rules.RuleBroken):
        _schedule(process, [], duration=60, mode="at_buyer")  # 60 min is priced only remote
    assert _schedule(process, [], duration=60, mode="remote").duration_minutes == 60


def test_no_session_starts_before_the_order_was_accepted() -> None:
    process = _process()
    with pytest.raises(rules.RuleBroken) as refused:
        _schedule(process, [], starts_at=ACCEPTED - dt.timedelta(minutes=1))
    assert refused.value.field == "body.startsAt"
    assert _schedule(process, [], starts_at=ACCEPTED).starts_at == ACCEPTED


def test_a_naive_start_time_is_refused() -> None:
    with pytest.raises(rules.RuleBroken):
        _schedule(_process(), [], starts_at=dt.datetime(2026, 4, 1, 12, 0))


def test_only_the_processs_own_supervisor_schedules() -> None:
    process = _process()
    others = [
        Actor(person_id=uuid.uuid4(), tenant_id=process.provider_id, roles=frozenset({Role.SUPERVISOR})),
        Actor(
            person_id=process.supervisor_id, tenant_id=process.buyer_id, roles=frozenset({Role.SUPERVISOR})
        ),
        Actor(person_id=uuid.uuid4(), tenant_id=process.provider_id, roles=frozenset({Role.PROVIDER_ADMIN})),
    ]
    for actor in others:
        with pytest.raises(rules.NotAllowed):
            sessions_rules.schedule(
                process, [], actor, session_id=uuid.uuid4(), starts_at=NOW, duration_minutes=90, mode="remote"
            )


def test_a_closed_process_takes_no_sessions() -> None:
    process = rules.close(_process(), "interrupted", closed_at=NOW, order_version=9)
    assert (process.status, process.outcome, process.closed_at) == (
        rules.ProcessStatus.CLOSED,
        "interrupted",
        NOW,
    )
    with pytest.raises(rules.WrongState, match="closed"):
        _schedule(process, [])
    assert rules.close(process, "completed", closed_at=NOW, order_version=10) is process


# --- the count: held + billable cancellations ---


def test_held_and_billable_cancellations_never_exceed_the_ordered_count() -> None:
    process = _process(planned_sessions=3)
    sessions: list[Session] = []
    first = _schedule(process, sessions, starts_at=NOW + dt.timedelta(hours=2))
    _held(process, sessions, first)
    late = _schedule(process, sessions, starts_at=NOW + dt.timedelta(hours=5))
    sessions[sessions.index(late)] = _cancel(process, late, NOW)  # late: billable, keeps its place
    no_show = _schedule(process, sessions, starts_at=NOW + dt.timedelta(hours=8))
    sessions[sessions.index(no_show)] = sessions_rules.record_no_show(
        process, sessions, no_show, _supervisor(process), now=no_show.ends_at
    )
    assert sum(1 for s in sessions if sessions_rules.billable(s)) == 3
    with pytest.raises(rules.WrongState):
        _schedule(process, sessions)


def test_an_on_time_or_exempt_cancellation_frees_its_place() -> None:
    process = _process(planned_sessions=2)
    sessions: list[Session] = []
    on_time = _schedule(process, sessions, starts_at=NOW + dt.timedelta(days=3))
    sessions[0] = _cancel(process, on_time, NOW)
    exempt = _schedule(process, sessions, starts_at=NOW + dt.timedelta(hours=3))
    sessions[1] = _cancel(process, exempt, NOW, reason="illness")
    assert sessions[1].cancellation is not None
    assert sessions[1].cancellation.charge_exempt
    _schedule(process, sessions)
    _schedule(process, sessions)
    with pytest.raises(rules.WrongState):
        _schedule(process, sessions)


# --- cancellation categories at the threshold ---


def test_a_cancellation_exactly_at_the_threshold_is_on_time() -> None:
    process = _process()
    session = _schedule(process, [], starts_at=NOW + dt.timedelta(hours=24))
    cancelled = _cancel(process, session, NOW)
    assert cancelled.cancellation is not None
    assert cancelled.cancellation.category == "on_time"
    assert not sessions_rules.billable(cancelled)


def test_a_cancellation_a_second_inside_the_threshold_is_late_and_billable() -> None:
    process = _process()
    session = _schedule(process, [], starts_at=NOW + dt.timedelta(hours=24))
    cancelled = _cancel(process, session, NOW + dt.timedelta(seconds=1))
    assert cancelled.cancellation is not None
    assert (cancelled.cancellation.category, cancelled.cancellation.charge_exempt) == ("late", False)
    assert sessions_rules.billable(cancelled)


def test_a_late_cancellation_for_illness_is_exempt_only_when_the_terms_say_so() -> None:
    process = _process()
    session = _schedule(process, [], starts_at=NOW + dt.timedelta(hours=1))
    assert _cancel(process, session, NOW, reason="illness").cancellation.charge_exempt  # type: ignore[union-attr]
    strict = msgspec.structs.replace(
        process, cancellation=msgspec.structs.replace(TERMS, illness_exempt=False)
    )
    assert not _cancel(strict, session, NOW, reason="illness").cancellation.charge_exempt  # type: ignore[union-attr]
    on_time = _schedule(process, [], starts_at=NOW + dt.timedelta(days=2))
    assert not _cancel(process, on_time, NOW, reason="illness").cancellation.charge_exempt  # type: ignore[union-attr]


def test_the_supervisors_cancellation_is_by_supervisor_whenever_it_comes() -> None:
    process = _process()
    session = _schedule(process, [], starts_at=NOW + dt.timedelta(hours=1))
    cancelled = _cancel(process, session, NOW, by="supervisor")
    assert cancelled.cancellation is not None
    assert cancelled.cancellation.category == "by_supervisor"
    assert not sessions_rules.billable(cancelled)


def test_only_a_scheduled_session_is_cancelled() -> None:
    process = _process()
    sessions: list[Session] = []
    held = _held(process, sessions, _schedule(process, sessions, starts_at=NOW))
    with pytest.raises(rules.WrongState):
        _cancel(process, held, NOW)


# --- held and no-show ---


def test_held_needs_the_start_and_attendance_of_exactly_the_participants() -> None:
    process = _process()
    sessions: list[Session] = []
    session = _schedule(process, sessions, starts_at=NOW)
    everyone = [Attendance(person_id=p, attended=True) for p in process.participants]
    supervisor = _supervisor(process)
    with pytest.raises(rules.WrongState, match="not started"):
        sessions_rules.mark_held(
            process, sessions, session, supervisor, everyone, now=NOW - dt.timedelta(seconds=1)
        )
    with pytest.raises(rules.RuleBroken):
        sessions_rules.mark_held(process, sessions, session, supervisor, everyone[:1], now=NOW)
    with pytest.raises(rules.RuleBroken):
        stranger = Attendance(person_id=uuid.uuid4(), attended=True)
        sessions_rules.mark_held(process, sessions, session, supervisor, [*everyone, stranger], now=NOW)
    with pytest.raises(rules.RuleBroken, match="no-show"):
        absent = [Attendance(person_id=p, attended=False) for p in process.participants]
        sessions_rules.mark_held(process, sessions, session, supervisor, absent, now=NOW)
    mixed = [everyone[0], Attendance(person_id=process.participants[1], attended=False)]
    held = sessions_rules.mark_held(process, sessions, session, supervisor, list(reversed(mixed)), now=NOW)
    assert held.status is SessionStatus.HELD
    assert held.attendance == tuple(mixed)  # in the process's order of participants
    assert held.version == 2


def test_a_no_show_is_recorded_only_once_the_session_started() -> None:
    process = _process()
    session = _schedule(process, [], starts_at=NOW)
    with pytest.raises(rules.WrongState):
        sessions_rules.record_no_show(
            process, [session], session, _supervisor(process), now=NOW - dt.timedelta(minutes=1)
        )
    assert (
        sessions_rules.record_no_show(process, [session], session, _supervisor(process), now=NOW).status
        is SessionStatus.NO_SHOW
    )


def test_rescheduling_keeps_to_the_price_list_and_the_acceptance() -> None:
    process = _process()
    session = _schedule(process, [])
    moved = sessions_rules.reschedule(
        process,
        session,
        _supervisor(process),
        starts_at=NOW + dt.timedelta(days=9),
        duration_minutes=60,
        mode="remote",
    )
    assert (moved.duration_minutes, moved.version) == (60, 2)
    with pytest.raises(rules.RuleBroken):
        sessions_rules.reschedule(
            process, moved, _supervisor(process), starts_at=NOW, duration_minutes=75, mode="remote"
        )
    with pytest.raises(rules.RuleBroken):
        sessions_rules.reschedule(
            process,
            moved,
            _supervisor(process),
            starts_at=ACCEPTED - dt.timedelta(days=1),
            duration_minutes=60,
            mode="remote",
        )


# --- the agreement and the trial gate ---


def _with_agreement(process: Process, trial_sessions: int) -> Process:
    agreement = SupervisionAgreement(
        signed_at=NOW - dt.timedelta(days=1),
        mid_evaluation_on=dt.date(2026, 6, 1),
        final_evaluation_on=dt.date(2026, 12, 1),
        trial_sessions=trial_sessions,
    )
    return rules.record_agreement(process, _supervisor(process), agreement, now=NOW)


def test_sessions_after_the_trial_are_booked_ahead_but_held_only_after_a_go() -> None:
    process = _with_agreement(_process(planned_sessions=6), trial_sessions=2)
    sessions: list[Session] = []
    first = _schedule(process, sessions, starts_at=NOW)
    second = _schedule(process, sessions, starts_at=NOW + dt.timedelta(days=14))
    assert (first.trial, second.trial) == (True, True)
    ahead = _schedule(process, sessions, starts_at=NOW + dt.timedelta(days=28))
    assert ahead.trial is False  # booked ahead while the trial runs
    _held(process, sessions, first)
    with pytest.raises(rules.WrongState, match="go/no-go"):
        _held(process, sessions, ahead)
    with pytest.raises(rules.WrongState, match="go/no-go"):
        sessions_rules.record_no_show(process, sessions, ahead, _supervisor(process), now=ahead.ends_at)
    with pytest.raises(rules.WrongState, match="hold them first"):
        rules.decide_trial(
            process, _supervisor(process), "go", now=NOW, trial_sessions_held=1, trial_sessions_pending=1
        )
    decided = rules.decide_trial(
        process, _supervisor(process), "go", now=NOW, trial_sessions_held=2, trial_sessions_pending=0
    )
    assert decided.trial_decision == "go"
    after = _schedule(decided, sessions)
    assert after.trial is False
    assert _held(decided, sessions, ahead).status is SessionStatus.HELD


def test_after_a_no_go_a_session_booked_ahead_is_never_held() -> None:
    process = _with_agreement(_process(planned_sessions=6), trial_sessions=1)
    sessions: list[Session] = []
    trial = _schedule(process, sessions, starts_at=NOW)
    ahead = _schedule(process, sessions, starts_at=NOW + dt.timedelta(days=14))
    _held(process, sessions, trial)
    decided = rules.decide_trial(
        process, _supervisor(process), "no_go", now=NOW, trial_sessions_held=1, trial_sessions_pending=0
    )
    with pytest.raises(rules.WrongState, match="no-go"):
        _held(decided, sessions, ahead)


def test_a_no_go_ends_the_scheduling() -> None:
    process = _with_agreement(_process(planned_sessions=6), trial_sessions=1)
    decided = rules.decide_trial(
        process, _supervisor(process), "no_go", now=NOW, trial_sessions_held=1, trial_sessions_pending=0
    )
    with pytest.raises(rules.WrongState, match="no-go"):
        _schedule(decided, [])


def test_a_cancelled_trial_session_frees_its_trial_place() -> None:
    process = _with_agreement(_process(planned_sessions=6), trial_sessions=1)
    sessions: list[Session] = []
    trial = _schedule(process, sessions, starts_at=NOW + dt.timedelta(days=5))
    sessions[0] = _cancel(process, trial, NOW)
    assert _schedule(process, sessions).trial is True


def test_an_agreement_has_zero_to_three_trial_sessions_and_ordered_evaluations() -> None:
    process = _process(planned_sessions=6)
    assert _with_agreement(process, 0).agreement is not None
    with pytest.raises(rules.RuleBroken):
        _with_agreement(process, 4)
    bad_dates = SupervisionAgreement(
        signed_at=NOW, mid_evaluation_on=dt.date(2026, 9, 1), final_evaluation_on=dt.date(2026, 6, 1)
    )
    with pytest.raises(rules.RuleBroken):
        rules.record_agreement(process, _supervisor(process), bad_dates, now=NOW)
    with pytest.raises(rules.WrongState):
        _with_agreement(_with_agreement(process, 1), 1)


def test_the_final_evaluation_is_recorded_once_and_not_in_the_future() -> None:
    process = _process()
    supervisor = _supervisor(process)
    mid = rules.record_evaluation(process, supervisor, "mid", NOW - dt.timedelta(days=1), now=NOW)
    final = rules.record_evaluation(mid, supervisor, "final", NOW, now=NOW)
    assert [e.kind for e in final.evaluations] == ["mid", "final"]
    with pytest.raises(rules.WrongState):
        rules.record_evaluation(final, supervisor, "final", NOW, now=NOW)
    with pytest.raises(rules.RuleBroken):
        rules.record_evaluation(process, supervisor, "mid", NOW + dt.timedelta(hours=1), now=NOW)


# --- who reads ---


def test_readers_are_the_supervisor_provider_admins_buyer_admins_cost_centre_approvers_participants() -> None:
    process = _process()

    def actor(tenant: uuid.UUID, *roles: Role, person: uuid.UUID | None = None) -> Actor:
        return Actor(person_id=person or uuid.uuid4(), tenant_id=tenant, roles=frozenset(roles))

    readers = [
        _supervisor(process),
        actor(process.provider_id, Role.PROVIDER_ADMIN),
        actor(process.buyer_id, Role.BUYER_ADMIN),
        Actor(
            person_id=uuid.uuid4(),
            tenant_id=process.buyer_id,
            roles=frozenset({Role.APPROVER}),
            approver_of=frozenset({process.cost_centre_id}),
        ),
        actor(process.buyer_id, Role.EMPLOYEE, person=process.participants[1]),
    ]
    strangers = [
        actor(process.buyer_id, Role.APPROVER),
        Actor(
            person_id=uuid.uuid4(),
            tenant_id=process.buyer_id,
            roles=frozenset({Role.APPROVER}),
            approver_of=frozenset({uuid.uuid4()}),
        ),
        actor(process.provider_id, Role.SUPERVISOR),
        actor(process.buyer_id, Role.EMPLOYEE),
        actor(uuid.uuid4(), Role.BUYER_ADMIN),
        actor(uuid.uuid4(), Role.SUPERVISOR, person=process.supervisor_id),
    ]
    assert all(rules.can_read(process, a) for a in readers)
    assert not any(rules.can_read(process, a) for a in strangers)


def test_a_session_ends_by_the_end_of_the_orders_last_day_in_helsinki() -> None:
    process = _process()
    end = sessions_rules.order_period_end(process)
    assert end == dt.datetime.combine(process.ends_on, dt.time(22, 0), tzinfo=dt.UTC)  # +02:00 in winter
    supervisor = _supervisor(process)
    fits = sessions_rules.schedule(
        process,
        [],
        supervisor,
        session_id=uuid.uuid4(),
        starts_at=end - dt.timedelta(minutes=90),
        duration_minutes=90,
        mode="remote",
    )
    assert fits.ends_at == end
    for starts_at in (end - dt.timedelta(minutes=89), dt.datetime.max.replace(tzinfo=dt.UTC)):
        with pytest.raises(rules.RuleBroken) as refused:
            sessions_rules.schedule(
                process,
                [],
                supervisor,
                session_id=uuid.uuid4(),
                starts_at=starts_at,
                duration_minutes=90,
                mode="remote",
            )
        assert refused.value.field == "body.startsAt"
