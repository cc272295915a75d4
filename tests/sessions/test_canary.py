"""THE CANARY: a unique string written as content through the API, over a whole flow, never
appears in plaintext in any table of any service database, in any message on any JetStream
stream, in any log line or in any error body."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from nats.js.errors import NotFoundError

from services.sessions.worker import create_worker
from shared.config import ServiceSettings
from shared.db.provision import DatabaseLayout
from shared.logging import configure_logging
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.sessions.support import Client, World, close_process, new_world, use_keyring

CANARY = f"CANARY-{uuid.uuid4().hex}"
CONTROL = f"CONTROL-{uuid.uuid4().hex}"
"""Not content: a machine client's id, which the audit log and the log lines rightly name. The
scans must find it, or they prove nothing."""


def _forms(text: str) -> list[str]:
    """The canary as it could show up: plain, hex (bytea), and JSON-escaped never differs for ASCII."""
    return [text, text.encode().hex(), text.lower(), text.encode().hex().upper()]


def _contains(haystack: str, needle: str = CANARY) -> bool:
    return any(form in haystack for form in _forms(needle))


class Recorder:
    """Every response of the flow; error bodies must never carry the canary."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.errors: list[httpx.Response] = []
        self.ok: list[httpx.Response] = []

    async def __call__(self, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, url, headers=headers, **kwargs)
        (self.ok if response.status_code < 400 else self.errors).append(response)
        return response


async def _flow(call: Recorder, world: World, other: World) -> None:
    base = world.base
    text = f"Luottamuksellinen {CANARY} sisältö"
    items: dict[str, dict[str, Any]] = {}
    writes = [
        ("private_note", world.supervisor(), None),
        ("shared_note", world.supervisor(), None),
        ("goal", world.supervisor(), None),
        ("supervisor_evaluation", world.supervisor(), "mid"),
        ("summary", world.supervisor(), None),
        ("reflection", world.participant(0), None),
        ("participant_evaluation", world.participant(0), "final"),
        ("goal", world.participant(1), None),
    ]
    for kind, headers, phase in writes:
        body: dict[str, Any] = {"kind": kind, "body": f"{kind}: {text}"}
        if phase:
            body["phase"] = phase
        response = await call("POST", f"{base}/content", headers, json=body)
        assert response.status_code == 201, response.text
        items[kind] = response.json()
    # Reads and lists by everyone, allowed or not.
    readers = [
        world.supervisor(),
        world.participant(0),
        world.participant(1),
        world.buyer_admin(),
        world.approver(),
    ]
    readers.append(world.headers(world.parties.provider_id, str(uuid.uuid4()), "provider_admin"))
    readers.append(
        world.headers(world.parties.buyer_id, f"client:{CONTROL}", "buyer_admin", client_id=CONTROL)
    )
    readers.append(other.supervisor())
    for headers in readers:
        await call("GET", f"{base}/content", headers)
        for item in items.values():
            await call("GET", f"{base}/content/{item['id']}", headers)
    # Changes, sharing, consent, approval — and refused attempts carrying the canary.
    summary = items["summary"]
    await call("PUT", f"{base}/content/{summary['id']}", world.supervisor(), json={"body": f"v2 {text}"})
    await call(
        "PUT", f"{base}/content/{summary['id']}", world.participant(0), json={"body": f"forged {text}"}
    )
    await call(
        "PUT",
        f"{base}/content/{summary['id']}",
        world.supervisor() | {"If-Match": '"1"'},
        json={"body": text},
    )
    for index in (0, 1):
        await call("POST", f"{base}/content/{summary['id']}/approve", world.participant(index))
        await call(
            "POST", f"{base}/content/{summary['id']}/approve", world.participant(index) | {"If-Match": '"2"'}
        )
        await call("PUT", f"{base}/goal-consent", world.participant(index), json={"consent": True})
    await call(
        "POST",
        f"{base}/content/{items['reflection']['id']}/share",
        world.participant(0),
        json={"shared": True},
    )
    for bad in (
        {"kind": "gossip", "body": text},
        {"kind": "shared_note", "body": text, "secret": text},
        {"kind": "participant_evaluation", "body": text},
        {"kind": "shared_note", "body": text * 1000},
        {"kind": "private_note", "body": text},
    ):
        await call("POST", f"{base}/content", world.participant(0), json=bad)
    await call(
        "POST", f"{other.base}/content", world.supervisor(), json={"kind": "shared_note", "body": text}
    )
    await call(
        "POST",
        f"{base}/content",
        world.supervisor(),
        content=b'{"kind": "shared_note", "body": "' + CANARY.encode(),
    )
    # The employer reads what it may now: consented goals and the approved summary.
    listed = await call("GET", f"{base}/content", world.buyer_admin())
    assert {i["kind"] for i in listed.json()["items"]} == {"goal", "summary"}


async def _scan_databases(stack: Stack, layouts: dict[str, DatabaseLayout], needle: str) -> list[str]:
    """Every row of every table of every service database, as the superuser (RLS is forced even
    for the owner role, so only the superuser sees all tenants' rows)."""
    found = []
    for service, layout in layouts.items():
        conn = await asyncpg.connect(stack.pg_admin_url.rsplit("/", 1)[0] + "/" + layout.database)
        try:
            tables = await conn.fetch(
                "select tablename from pg_tables where schemaname = 'public' order by 1"
            )
            for table in tables:
                name = table["tablename"]
                rows = await conn.fetch(f'select t::text as row from public."{name}" t')
                assert rows is not None
                found += [f"{service}.{name}" for r in rows if _contains(r["row"], needle)]
        finally:
            await conn.close()
    return found


async def _scan_streams(stack: Stack) -> tuple[int, list[str]]:
    nc = await nats.connect(stack.nats_url)
    found, count = [], 0
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            state, stream = info.state, info.config.name
            assert stream is not None
            for seq in range(state.first_seq, state.last_seq + 1):
                try:
                    message = await js.get_msg(stream, seq)
                except NotFoundError:
                    continue
                count += 1
                raw = (message.data or b"").decode(errors="replace") + str(message.headers or {})
                if _contains(raw):
                    found.append(f"{stream}#{seq}")
    finally:
        await nc.close()
    return count, found


async def _drain_outbox(layout: DatabaseLayout) -> None:
    conn = await asyncpg.connect(layout.relay_url)
    try:
        for _ in range(150):
            if not await conn.fetchval("select count(*) from outbox where published_at is null"):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the relay did not publish the outbox")
    finally:
        await conn.close()


async def test_the_canary_never_leaves_the_content_wall(
    client: Client,
    sessions_pool: asyncpg.Pool,
    issuer: TestIssuer,
    stack: Stack,
    platform_databases: dict[str, DatabaseLayout],
    settings_for: Callable[[str], ServiceSettings],
    layout: DatabaseLayout,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    logs = io.StringIO()
    configure_logging("debug", stream=logs)
    caplog.set_level(logging.DEBUG)
    worker = create_worker(settings_for("sessions"))
    tasks = await worker.start()
    try:
        use_keyring(client)
        world, other = await new_world(sessions_pool, issuer), await new_world(sessions_pool, issuer)
        call = Recorder(client)
        await _flow(call, world, other)
        # The frame goes on: a session is scheduled and held, then the process closes (events).
        session = await call(
            "POST",
            f"{world.base}/sessions",
            world.supervisor(),
            json={
                "startsAt": (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat(),
                "durationMinutes": 90,
                "mode": "remote",
            },
        )
        assert session.status_code == 201, session.text
        attendance = {
            "attendance": [{"personId": str(p), "attended": True} for p in world.parties.participants]
        }
        held = await call(
            "POST", f"/sessions/sessions/{session.json()['id']}/held", world.supervisor(), json=attendance
        )
        assert held.status_code == 200, held.text
        await close_process(sessions_pool, world, dt.datetime.now(dt.UTC))
        await _drain_outbox(layout)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await worker.close()
        configure_logging("warning")

    # The flow did what it should: content was written and read back, and plenty was refused.
    assert sum(_contains(r.text) for r in call.ok) >= 8
    assert len(call.errors) >= 40
    assert {r.status_code for r in call.errors} >= {400, 403, 404, 412, 422}
    leaking = [(r.status_code, r.request.url.path) for r in call.errors if _contains(r.text)]
    assert leaking == []

    assert await _scan_databases(stack, platform_databases, CANARY) == []
    assert "sessions.content_audit" in await _scan_databases(stack, platform_databases, CONTROL)
    count, on_streams = await _scan_streams(stack)
    assert count > 0
    assert on_streams == []

    captured = capfd.readouterr()
    log_text = logs.getvalue() + captured.out + captured.err + caplog.text
    assert _contains(log_text, CONTROL)  # the scan sees what the logs hold
    assert not _contains(log_text)
