"""The integrations domain without servers: the public catalogue's mapping, webhook URL rules,
the retry schedule."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import random
import uuid

import msgspec
import pytest

from services.integrations.domain import catalogue
from services.integrations.domain.webhooks import (
    RetryPolicy,
    TargetNotAllowed,
    check_addresses,
    check_url,
    forbidden_address,
    new_secret,
)
from tests.integrations.support import Parties, order_approved, session_cancelled, session_held


def _public(
    envelope_factory: object, tenant: uuid.UUID, lookups: catalogue.Lookups | None = None
) -> list[catalogue.PublicEvent]:
    envelope = envelope_factory  # an Envelope
    return catalogue.public_events(
        internal_type=envelope.type,  # type: ignore[attr-defined]
        event=envelope.event(),  # type: ignore[attr-defined]
        event_id=envelope.id,  # type: ignore[attr-defined]
        subject=envelope.subject,  # type: ignore[attr-defined]
        occurred_at=envelope.occurred_at,  # type: ignore[attr-defined]
        tenant_id=tenant,
        lookups=lookups or catalogue.Lookups(employee_numbers={}, cost_centre_codes={}),
    )


def test_a_held_session_becomes_one_working_time_event_per_attendee_for_the_buyer_only() -> None:
    p = Parties()
    came, absent = uuid.uuid4(), uuid.uuid4()
    held = session_held(p, {came: True, absent: False})
    lookups = catalogue.Lookups(
        employee_numbers={came: "HR-7", absent: "HR-8"},
        cost_centre_codes={p.cost_centre: "4100"},
        reason_code="TO",
    )
    for_buyer = _public(held, p.buyer, lookups)
    assert sorted(e.type for e in for_buyer) == [
        "fi.tila.session.held.v1",
        "fi.tila.working_time.recorded.v1",
    ]
    (working,) = [e for e in for_buyer if e.type == "fi.tila.working_time.recorded.v1"]
    assert isinstance(working.data, catalogue.WorkingTimeData)
    assert working.data.employee_number == "HR-7"
    assert working.data.reason_code == "TO"
    assert working.data.cost_centre_code == "4100"
    assert [e.type for e in _public(held, p.provider, lookups)] == ["fi.tila.session.held.v1"]
    # The same internal event makes the same public ids (a redelivery is a duplicate, not news).
    assert {e.id for e in _public(held, p.buyer, lookups)} == {e.id for e in for_buyer}


def test_a_personal_identity_code_entered_as_an_employee_number_never_leaves() -> None:
    p = Parties()
    person = uuid.uuid4()
    lookups = catalogue.Lookups(employee_numbers={person: "131052-308T"}, cost_centre_codes={})
    (working,) = [
        e
        for e in _public(session_held(p, {person: True}), p.buyer, lookups)
        if e.type.startswith("fi.tila.working")
    ]
    assert isinstance(working.data, catalogue.WorkingTimeData)
    assert working.data.employee_number is None
    assert "131052-308T" not in msgspec.json.encode(working).decode()


def test_an_internal_event_outside_the_allow_list_becomes_nothing() -> None:
    assert "orders.order.submitted.v1" not in catalogue.INTERNAL_TYPES
    assert "sessions.evaluation.done.v1" not in catalogue.INTERNAL_TYPES
    assert "organisations.person.created.v1" not in catalogue.INTERNAL_TYPES
    assert all(t.startswith("fi.tila.") and t[-3:-1] == ".v" for t in catalogue.PUBLIC_TYPES)


def test_a_public_event_has_only_cloudevents_attributes_and_its_schema_fields() -> None:
    p = Parties()
    (event,) = _public(order_approved(p), p.buyer)
    raw = msgspec.json.decode(msgspec.json.encode(event))
    assert set(raw) == catalogue.CLOUDEVENTS_ATTRIBUTES
    assert raw["specversion"] == "1.0"
    assert set(raw["data"]) == {f.encode_name for f in msgspec.structs.fields(catalogue.OrderData)}
    assert "participants" not in raw["data"]  # person ids of an order never leave


def test_a_cancelled_session_says_only_the_category() -> None:
    p = Parties()
    (event,) = _public(session_cancelled(p, category="on_time"), p.buyer)
    assert msgspec.structs.asdict(event.data).keys() == {"session_id", "order_id", "starts_at", "category"}


def test_an_exempt_late_cancellation_is_told_exactly_like_an_on_time_one() -> None:
    """Exempt means ill: an HR system must not be able to single it out (sessions' visibility rule)."""
    p = Parties()

    def told(envelope: object) -> object:
        (event,) = _public(envelope, p.buyer)
        data = msgspec.structs.asdict(event.data)
        data.pop("session_id")
        return data, msgspec.json.decode(msgspec.json.encode(event))["type"]

    exempt = told(session_cancelled(p, category="late", charge_exempt=True))
    assert exempt == told(session_cancelled(p, category="on_time"))
    assert exempt[0]["category"] == "on_time"  # type: ignore[index]
    assert told(session_cancelled(p, category="late"))[0]["category"] == "late"  # type: ignore[index]


@pytest.mark.parametrize(
    ("url", "dev"),
    [
        ("https://hr.example.com/hooks/tila", False),
        ("https://8.8.8.8:8443/hook?x=1", False),
        ("http://127.0.0.1:9000/hook", True),
        ("http://localhost:9000/hook", True),
        ("https://[::1]:9000/hook", True),
    ],
)
def test_allowed_webhook_urls(url: str, dev: bool) -> None:
    check_url(url, allow_loopback_http=dev)


@pytest.mark.parametrize(
    ("url", "dev"),
    [
        ("http://hr.example.com/hook", False),
        ("http://hr.example.com/hook", True),  # dev mode allows plain http to loopback only
        ("http://10.0.0.1/hook", True),
        ("https://10.0.0.1/hook", True),
        ("http://127.0.0.1/hook", False),
        ("https://hr.example.com/hook#frag", False),
        ("https:///hook", False),
    ],
)
def test_refused_webhook_urls(url: str, dev: bool) -> None:
    with pytest.raises(TargetNotAllowed):
        check_url(url, allow_loopback_http=dev)


@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "172.31.255.1", "192.168.0.1", "127.0.0.1", "169.254.169.254", "100.64.1.1", "0.0.0.0",  # noqa: S104
     "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:192.168.0.1", "198.18.0.1", "240.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_are_forbidden(address: str) -> None:
    assert forbidden_address(ipaddress.ip_address(address), allow_loopback=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
        "https://[2002:a9fe:a9fe::]/hook",  # 6to4
        "https://[::a9fe:a9fe]/hook",  # IPv4-compatible
        "https://[fec0::1]/hook",  # site-local
        "https://192.0.0.8/hook",  # IETF protocol assignments
        "https://[::ffff:a9fe:a9fe]/hook",  # IPv4-mapped
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",  # Teredo
    ],
)
def test_webhook_targets_carrying_internal_ipv4_in_ipv6_are_refused(url: str) -> None:
    for dev in (False, True):
        with pytest.raises(TargetNotAllowed) as refused:
            check_url(url, allow_loopback_http=dev)
        assert refused.value.errors is not None
        assert refused.value.errors[0].field == "body.url"


@pytest.mark.parametrize(
    "address", ["64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::", "::a9fe:a9fe", "fec0::1", "192.0.0.8"]
)
def test_a_host_resolving_to_ipv4_carried_in_ipv6_is_refused(address: str) -> None:
    with pytest.raises(TargetNotAllowed):
        check_addresses([address], allow_loopback=True)


def test_a_host_is_refused_when_any_of_its_addresses_is_not_public() -> None:
    check_addresses(["8.8.8.8", "2001:4860:4860::8888"], allow_loopback=False)
    with pytest.raises(TargetNotAllowed):
        check_addresses(["8.8.8.8", "10.0.0.1"], allow_loopback=False)
    with pytest.raises(TargetNotAllowed):
        check_addresses([], allow_loopback=False)
    check_addresses(["127.0.0.1"], allow_loopback=True)
    with pytest.raises(TargetNotAllowed):
        check_addresses(["127.0.0.1"], allow_loopback=False)


def test_the_default_retries_back_off_exponentially_with_jitter_for_more_than_24_hours() -> None:
    policy, rng = RetryPolicy(), random.Random(7)
    first = now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    delays: list[dt.timedelta] = []
    attempts = 1
    while (
        retry := policy.after_failure(attempts=attempts, window_started_at=first, now=now, rng=rng)
    ) is not None:
        delays.append(retry - now)
        now, attempts = retry, attempts + 1
    assert now - first >= dt.timedelta(hours=24)
    assert 10 <= attempts <= 40
    assert delays[0] <= dt.timedelta(seconds=30)
    assert delays[5] > delays[0] * 8  # exponential
    assert max(delays) <= dt.timedelta(hours=3)
    assert len({d.total_seconds() for d in delays}) == len(delays)  # jittered


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret
