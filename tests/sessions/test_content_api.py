"""Content over HTTP: consent to share goals, approval of the summary, sharing a reflection,
validation, paging, versions, and ciphertexts that refuse to open anywhere but their own row."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg

from services.sessions.adapters.crypto import ContentKeyring
from services.sessions.handlers.content import rewrap_keys
from shared.db.tenant import tenant_transaction
from shared.testing.issuer import TestIssuer
from tests.clients import ReadBeforeWriteClient
from tests.sessions.support import (
    Client,
    Parties,
    World,
    body_of,
    new_world,
    open_process,
    use_keyring,
    write,
)


async def _world(client: Client, pool: asyncpg.Pool, issuer: TestIssuer) -> World:
    use_keyring(client)
    return await new_world(pool, issuer)


async def _consent(client: Client, world: World, index: int, consent: bool) -> dict[str, object]:
    response = await client.put(
        f"{world.base}/goal-consent", json={"consent": consent}, headers=world.participant(index)
    )
    result: dict[str, object] = body_of(response, 200)
    return result


async def test_the_employer_reads_goals_only_while_every_participant_consents(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    goal = await write(client, world, world.participant(0), "goal", "Jaksaminen ja rajat")
    await write(client, world, world.supervisor(), "shared_note", "not for the employer")
    url = f"{world.base}/content/{goal['id']}"
    assert (await client.get(url, headers=world.buyer_admin())).status_code == 403
    assert (await _consent(client, world, 0, True))["goalsSharedWithEmployer"] is False
    assert (await client.get(url, headers=world.approver())).status_code == 403
    assert (await _consent(client, world, 1, True))["goalsSharedWithEmployer"] is True
    assert body_of(await client.get(url, headers=world.buyer_admin()), 200)["body"] == "Jaksaminen ja rajat"
    assert body_of(await client.get(url, headers=world.approver()), 200)["kind"] == "goal"
    listed = body_of(await client.get(f"{world.base}/content", headers=world.buyer_admin()), 200)["items"]
    assert [i["kind"] for i in listed] == ["goal"]
    # whose goal it is would name the participant: the employer reads the goal, not its author
    for headers in (world.buyer_admin(), world.approver()):
        one = body_of(await client.get(url, headers=headers), 200)
        many = body_of(await client.get(f"{world.base}/content", headers=headers), 200)["items"]
        assert [(one["ownerId"], one["approvedBy"])] == [(i["ownerId"], i["approvedBy"]) for i in many]
        assert (one["ownerId"], one["approvedBy"]) == (None, None)
    assert body_of(await client.get(url, headers=world.supervisor()), 200)["ownerId"] == str(
        world.parties.participants[0]
    )
    status = body_of(await client.get(f"{world.base}/content-status", headers=world.buyer_admin()), 200)
    assert status == {
        "processId": str(world.process_id),
        "relation": "employer",
        "goalsSharedWithEmployer": True,
        "consented": [],
        "shredded": False,
    }
    await _consent(client, world, 1, False)
    assert (await client.get(url, headers=world.buyer_admin())).status_code == 403
    assert body_of(await client.get(f"{world.base}/content", headers=world.buyer_admin()), 200)["items"] == []
    refused = await client.put(
        f"{world.base}/goal-consent", json={"consent": True}, headers=world.supervisor()
    )
    assert refused.status_code == 403


async def test_participants_read_the_supervisors_goals_and_their_own_but_not_each_others(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    common = await write(client, world, world.supervisor(), "goal", "Yhteinen tavoite")
    own = await write(client, world, world.participant(0), "goal", "Oma tavoite")
    for index in (0, 1):
        got = await client.get(f"{world.base}/content/{common['id']}", headers=world.participant(index))
        assert body_of(got, 200)["body"] == "Yhteinen tavoite"
    assert body_of(await client.get(f"{world.base}/content/{own['id']}", headers=world.participant(0)), 200)
    assert body_of(await client.get(f"{world.base}/content/{own['id']}", headers=world.supervisor()), 200)
    refused = await client.get(f"{world.base}/content/{own['id']}", headers=world.participant(1))
    assert refused.status_code == 403
    assert "Oma tavoite" not in refused.text
    listed = body_of(await client.get(f"{world.base}/content", headers=world.participant(1)), 200)["items"]
    assert [i["id"] for i in listed] == [common["id"]]


async def test_a_new_or_changed_goal_needs_every_participants_consent_again(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    goal = await write(client, world, world.participant(0), "goal", "Jaksaminen")
    await _consent(client, world, 0, True)
    assert (await _consent(client, world, 1, True))["goalsSharedWithEmployer"] is True
    url = f"{world.base}/content/{goal['id']}"
    assert (await client.get(url, headers=world.buyer_admin())).status_code == 200

    changed = await client.put(
        url,
        json={"body": "Jaksaminen ja esihenkilön toiminta"},
        headers=world.participant(0) | {"If-Match": '"1"'},
    )
    body_of(changed, 200)
    status = body_of(await client.get(f"{world.base}/content-status", headers=world.participant(0)), 200)
    assert (status["goalsSharedWithEmployer"], status["consented"]) == (False, [])
    assert (await client.get(url, headers=world.buyer_admin())).status_code in (403, 404)

    await _consent(client, world, 0, True)
    assert (await _consent(client, world, 1, True))["goalsSharedWithEmployer"] is True
    await write(client, world, world.supervisor(), "goal", "Uusi tavoite")
    assert body_of(await client.get(f"{world.base}/content", headers=world.buyer_admin()), 200)["items"] == []


async def test_the_employer_reads_the_summary_once_every_participant_approved_this_version(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    summary = await write(client, world, world.supervisor(), "summary", "Yhteinen yhteenveto")
    url = f"{world.base}/content/{summary['id']}"
    approve = f"{url}/approve"
    assert (await client.post(approve, headers=world.supervisor() | {"If-Match": '"1"'})).status_code == 403
    assert isinstance(client, ReadBeforeWriteClient)
    client.careful = False  # exactly what is sent: no If-Match at all
    try:
        unbound = await client.post(approve, headers=world.participant(0))
    finally:
        client.careful = True
    assert unbound.status_code == 428
    assert unbound.headers["content-type"] == "application/problem+json"
    assert "If-Match" in unbound.json()["detail"]
    unbound = await client.post(approve, headers=world.participant(0) | {"If-Match": "*"})
    assert unbound.status_code == 428
    body_of(await client.post(approve, headers=world.participant(0) | {"If-Match": '"1"'}), 200)
    assert (await client.get(url, headers=world.buyer_admin())).status_code == 403
    body_of(await client.post(approve, headers=world.participant(1) | {"If-Match": '"1"'}), 200)
    read = body_of(await client.get(url, headers=world.buyer_admin()), 200)
    assert read["body"] == "Yhteinen yhteenveto"
    assert (read["ownerId"], read["approvedBy"]) == (None, None)  # the employer is not told who
    seen_by_participant = body_of(await client.get(url, headers=world.participant(0)), 200)
    assert sorted(seen_by_participant["approvedBy"]) == sorted(str(p) for p in world.parties.participants)
    assert seen_by_participant["ownerId"] == str(world.parties.supervisor_id)
    # A changed summary needs every approval again.
    changed = await client.put(
        url, json={"body": "Muutettu"}, headers=world.supervisor() | {"If-Match": '"1"'}
    )
    assert body_of(changed, 200)["approvedBy"] == []
    assert (await client.get(url, headers=world.buyer_admin())).status_code == 403
    stale = await client.post(approve, headers=world.participant(0) | {"If-Match": '"1"'})
    assert stale.status_code == 412


async def test_a_reflection_reaches_the_supervisor_only_when_its_author_shares_it(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    reflection = await write(client, world, world.participant(0), "reflection", "Oma pohdinta")
    url = f"{world.base}/content/{reflection['id']}"
    assert (await client.get(url, headers=world.supervisor())).status_code == 403
    assert (
        await client.post(f"{url}/share", json={"shared": True}, headers=world.participant(1))
    ).status_code == 403
    shared = body_of(
        await client.post(f"{url}/share", json={"shared": True}, headers=world.participant(0)), 200
    )
    assert shared["sharedWithSupervisor"] is True
    assert body_of(await client.get(url, headers=world.supervisor()), 200)["body"] == "Oma pohdinta"
    assert (await client.get(url, headers=world.participant(1))).status_code == 403
    assert (await client.get(url, headers=world.buyer_admin())).status_code == 403
    body_of(await client.post(f"{url}/share", json={"shared": False}, headers=world.participant(0)), 200)
    assert (await client.get(url, headers=world.supervisor())).status_code == 403


async def test_bad_requests_name_the_field_and_never_repeat_the_text(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    text = "Salainen-teksti-91b2"
    cases = [
        ({"kind": "supervisor_evaluation", "body": text}, 422, "body.phase"),
        ({"kind": "shared_note", "body": text, "phase": "mid"}, 422, "body.phase"),
        ({"kind": "shared_note", "body": "   "}, 422, "body.body"),
        ({"kind": "gossip", "body": text}, 400, None),
        ({"kind": "shared_note", "body": text, "extra": text}, 400, None),
        ({"kind": "shared_note", "body": text * 2000}, 400, None),
    ]
    headers = world.supervisor()
    for payload, status, field in cases:
        response = await client.post(f"{world.base}/content", json=payload, headers=headers)
        assert response.status_code == status, (payload.keys(), response.text[:200])
        assert text not in response.text
        if field:
            assert field in [e["field"] for e in response.json()["errors"]]
    evaluation = await write(
        client, world, world.participant(), "participant_evaluation", "Väli", phase="mid"
    )
    assert evaluation["phase"] == "mid"


async def test_content_is_listed_page_by_page_and_updated_only_with_a_fresh_version(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    written = [await write(client, world, world.supervisor(), "private_note", f"note {n}") for n in range(5)]
    seen, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": 2, "kind": "private_note"}
        if cursor:
            params["cursor"] = cursor
        page = body_of(
            await client.get(f"{world.base}/content", params=params, headers=world.supervisor()), 200
        )
        seen += [i["id"] for i in page["items"]]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    assert seen == [w["id"] for w in written]
    bad = await client.get(f"{world.base}/content", params={"cursor": "!!"}, headers=world.supervisor())
    assert bad.status_code == 400
    url = f"{world.base}/content/{written[0]['id']}"
    ok = await client.put(url, json={"body": "edited"}, headers=world.supervisor() | {"If-Match": '"1"'})
    assert body_of(ok, 200)["version"] == 2
    assert ok.headers["etag"] == '"2"'
    stale = await client.put(url, json={"body": "again"}, headers=world.supervisor() | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert body_of(await client.get(url, headers=world.supervisor()), 200)["body"] == "edited"


async def _body(pool: asyncpg.Pool, world: World, item_id: object) -> bytes:
    async with tenant_transaction(pool, world.parties.provider_id) as conn:
        value: bytes = await conn.fetchval(
            "select body from content_items where id = $1", uuid.UUID(str(item_id))
        )
    return value


async def _set_body(pool: asyncpg.Pool, world: World, item_id: object, body: bytes) -> None:
    async with tenant_transaction(pool, world.parties.provider_id) as conn:
        await conn.execute("update content_items set body = $2 where id = $1", uuid.UUID(str(item_id)), body)


async def test_a_tampered_or_moved_ciphertext_does_not_decrypt(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    first = await write(client, world, world.supervisor(), "shared_note", "first note")
    second = await write(client, world, world.supervisor(), "shared_note", "second note")
    third = await write(client, world, world.supervisor(), "shared_note", "third note")
    url = f"{world.base}/content"
    # Tampered: one bit flipped.
    original = await _body(sessions_pool, world, first["id"])
    tampered = bytearray(original)
    tampered[20] ^= 0x01
    await _set_body(sessions_pool, world, first["id"], bytes(tampered))
    response = await client.get(f"{url}/{first['id']}", headers=world.supervisor())
    assert response.status_code == 500
    assert response.json()["type"] == "urn:tila:problem:content-unreadable"
    assert "note" not in response.text
    async with tenant_transaction(sessions_pool, world.parties.provider_id) as conn:
        outcome = await conn.fetchval(
            "select outcome from content_audit where tenant_id = $1 and item_id = $2"
            " order by seq desc limit 1",
            world.parties.provider_id,
            uuid.UUID(first["id"]),
        )
    assert outcome == "failed"
    # Moved: another row's valid ciphertext of the same process.
    await _set_body(sessions_pool, world, second["id"], original)
    assert (await client.get(f"{url}/{second['id']}", headers=world.supervisor())).status_code == 500
    # Moved across processes of the same provider: the other process's key and row differ.
    parties = Parties(provider_id=world.parties.provider_id, supervisor_id=world.parties.supervisor_id)
    sibling = World(issuer, parties, (await open_process(sessions_pool, parties)).process_id)
    other_note = await write(client, sibling, sibling.supervisor(), "shared_note", "stays here")
    await _set_body(sessions_pool, world, third["id"], await _body(sessions_pool, sibling, other_note["id"]))
    assert (await client.get(f"{url}/{third['id']}", headers=world.supervisor())).status_code == 500
    # The untouched item still reads.
    read = await client.get(f"{sibling.base}/content/{other_note['id']}", headers=sibling.supervisor())
    assert body_of(read, 200)["body"] == "stays here"


async def test_a_private_note_relabelled_shared_in_the_database_does_not_decrypt(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    note = await write(client, world, world.supervisor(), "private_note", "only mine")
    async with tenant_transaction(sessions_pool, world.parties.provider_id) as conn:
        await conn.execute(
            "update content_items set kind = 'shared_note' where id = $1", uuid.UUID(note["id"])
        )
    response = await client.get(f"{world.base}/content/{note['id']}", headers=world.participant(0))
    assert response.status_code == 500
    assert response.json()["type"] == "urn:tila:problem:content-unreadable"
    assert "only mine" not in response.text


async def test_a_ciphertext_copied_to_another_tenants_process_does_not_decrypt(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    other = await new_world(sessions_pool, issuer)
    mine = await write(client, world, world.supervisor(), "shared_note", "tenant A's words")
    theirs = await write(client, other, other.supervisor(), "shared_note", "tenant B's words")
    copied = await _body(sessions_pool, world, mine["id"])
    await _set_body(sessions_pool, other, theirs["id"], copied)
    response = await client.get(f"{other.base}/content/{theirs['id']}", headers=other.supervisor())
    assert response.status_code == 500
    assert "words" not in response.text
    # And the data key record copied to another process does not unwrap there either.
    async with tenant_transaction(sessions_pool, world.parties.provider_id) as conn:
        key = await conn.fetchrow(
            "select key_id, wrapped_key from content_keys where process_id = $1", world.process_id
        )
    async with tenant_transaction(sessions_pool, other.parties.provider_id) as conn:
        await conn.execute(
            "update content_keys set key_id = $2, wrapped_key = $3 where process_id = $1",
            other.process_id,
            key["key_id"],
            key["wrapped_key"],
        )
    listed = await client.get(f"{other.base}/content", headers=other.supervisor())
    assert listed.status_code == 500
    assert "words" not in listed.text


async def test_after_a_keyring_rotation_old_content_reads_and_rewrapping_lets_the_old_key_go(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    old = use_keyring(client, ContentKeyring.generate("old"))
    world = await new_world(sessions_pool, issuer)
    note = await write(client, world, world.supervisor(), "shared_note", "written under the old key")
    url = f"{world.base}/content/{note['id']}"
    rotated = use_keyring(client, old.with_new_key("new"))
    assert (
        body_of(await client.get(url, headers=world.supervisor()), 200)["body"] == "written under the old key"
    )
    fresh = await new_world(sessions_pool, issuer)
    await write(client, fresh, fresh.supervisor(), "shared_note", "written under the new key")
    async with tenant_transaction(sessions_pool, fresh.parties.provider_id) as conn:
        assert (
            await conn.fetchval("select key_id from content_keys where process_id = $1", fresh.process_id)
            == "new"
        )
    # Without the old key, the old process's content cannot be opened until it is re-wrapped.
    use_keyring(client, rotated.without("old"))
    assert (await client.get(url, headers=world.supervisor())).status_code == 500
    assert await rewrap_keys(sessions_pool, rotated, world.parties.provider_id) == 1
    assert await rewrap_keys(sessions_pool, rotated, world.parties.provider_id) == 0
    assert (
        body_of(await client.get(url, headers=world.supervisor()), 200)["body"] == "written under the old key"
    )


async def test_notes_belong_to_a_session_of_their_process(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    other = await new_world(sessions_pool, issuer)
    starts = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat()
    schedule = {"startsAt": starts, "durationMinutes": 90, "mode": "remote"}
    session = body_of(
        await client.post(f"{world.base}/sessions", json=schedule, headers=world.supervisor()), 201
    )
    foreign = body_of(
        await client.post(f"{other.base}/sessions", json=schedule, headers=other.supervisor()), 201
    )
    about = {"kind": "shared_note", "body": "kolmannen kerran teemat", "sessionId": session["id"]}
    note = body_of(await client.post(f"{world.base}/content", json=about, headers=world.supervisor()), 201)
    assert note["sessionId"] == session["id"]
    await write(client, world, world.supervisor(), "shared_note", "not about a session")
    wrong = await client.post(
        f"{world.base}/content", json=about | {"sessionId": foreign["id"]}, headers=world.supervisor()
    )
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["errors"]] == ["body.sessionId"]
    listed = await client.get(
        f"{world.base}/content", params={"sessionId": session["id"]}, headers=world.participant()
    )
    assert [i["id"] for i in body_of(listed, 200)["items"]] == [note["id"]]


async def test_the_openapi_document_describes_the_content_routes(client: Client) -> None:
    document = body_of(await client.get("/sessions/schema/openapi.json"), 200)
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {
        "createContent",
        "listContent",
        "getContent",
        "updateContent",
        "shareReflection",
        "approveSummary",
        "setGoalConsent",
        "getContentStatus",
        "setContentRetention",
    } <= operations


async def test_concurrent_first_writes_share_one_data_key(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    payloads = [{"kind": "shared_note", "body": f"rinnakkain {n}"} for n in range(6)]
    responses = await asyncio.gather(
        *(client.post(f"{world.base}/content", json=p, headers=world.supervisor()) for p in payloads)
    )
    assert [r.status_code for r in responses] == [201] * 6
    listed = body_of(await client.get(f"{world.base}/content", headers=world.participant()), 200)["items"]
    assert sorted(i["body"] for i in listed) == sorted(p["body"] for p in payloads)
    async with tenant_transaction(sessions_pool, world.parties.provider_id) as conn:
        assert (
            await conn.fetchval("select count(*) from content_keys where process_id = $1", world.process_id)
            == 1
        )
