"""shared.http.idempotency on a real database: replays, refusals and keys kept per caller."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import msgspec
import pytest
import pytest_asyncio

from shared.auth.principal import Principal
from shared.db.migrate import migrate
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout, provision_database
from shared.db.tenant import tenant_transaction
from shared.errors import Conflict, InvariantViolated
from shared.http.idempotency import MIGRATIONS, idempotent_request, remember, replay, request_hash
from shared.testing.plugin import Stack


class Made(msgspec.Struct, frozen=True):
    made_id: uuid.UUID
    name: str


@pytest_asyncio.fixture(scope="module")
async def pool(
    stack: Stack, database_factory: Callable[[str], DatabaseLayout]
) -> AsyncIterator[asyncpg.Pool]:
    layout = database_factory("idempotency")
    await provision_database(layout)
    await migrate(layout.owner_url, [MIGRATIONS])
    made = await create_pool(layout.app_url, max_size=4)
    yield made
    await made.close()


def _caller(tenant_id: uuid.UUID, subject: str | None = None) -> Principal:
    return Principal(subject=subject or str(uuid.uuid4()), tenant_id=tenant_id, roles=frozenset())


async def _create(pool: asyncpg.Pool, caller: Principal, key: str | None, body: bytes) -> Made:
    """A creating use case: replay first, make something, remember the answer, one transaction."""
    request = idempotent_request(caller, key, request_hash(caller.subject, body))
    async with tenant_transaction(pool, caller.tenant_id) as conn:
        if (stored := await replay(conn, request, Made)) is not None:
            return stored
        made = Made(made_id=uuid.uuid4(), name=body.decode())
        await remember(conn, request, made)
    return made


async def test_the_same_key_and_body_from_the_same_caller_answer_the_first_response(
    pool: asyncpg.Pool,
) -> None:
    caller = _caller(uuid.uuid4())
    first = await _create(pool, caller, "k-1", b"one")
    assert await _create(pool, caller, "k-1", b"one") == first


async def test_the_same_key_with_another_body_is_a_422_naming_the_header(pool: asyncpg.Pool) -> None:
    caller = _caller(uuid.uuid4())
    await _create(pool, caller, "k-2", b"one")
    with pytest.raises(InvariantViolated) as refused:
        await _create(pool, caller, "k-2", b"two")
    assert refused.value.status == 422
    assert [e.field for e in refused.value.errors or []] == ["header.Idempotency-Key"]


async def test_a_key_is_the_callers_own(pool: asyncpg.Pool) -> None:
    """A colleague in the same tenant, or anyone in another tenant, with the same key makes anew."""
    tenant = uuid.uuid4()
    mine = await _create(pool, _caller(tenant, "me"), "shared-key", b"one")
    colleague = await _create(pool, _caller(tenant, "colleague"), "shared-key", b"one")
    stranger = await _create(pool, _caller(uuid.uuid4(), "me"), "shared-key", b"one")
    assert len({mine.made_id, colleague.made_id, stranger.made_id}) == 3


async def test_without_a_key_every_request_makes_anew(pool: asyncpg.Pool) -> None:
    caller = _caller(uuid.uuid4())
    assert await _create(pool, caller, None, b"one") != await _create(pool, caller, None, b"one")


async def test_a_request_whose_key_another_took_meanwhile_is_a_409(pool: asyncpg.Pool) -> None:
    """Both passed ``replay`` before either stored: the one that stores second hears "in flight"."""
    caller = _caller(uuid.uuid4())
    request = idempotent_request(caller, "k-3", request_hash(caller.subject, b"one"))
    first_checked = asyncio.Event()
    second_checked = asyncio.Event()

    async def first() -> None:
        async with tenant_transaction(pool, caller.tenant_id) as conn:
            assert await replay(conn, request, Made) is None
            first_checked.set()
            await second_checked.wait()
            await remember(conn, request, Made(made_id=uuid.uuid4(), name="first"))

    async def second() -> None:
        await first_checked.wait()
        async with tenant_transaction(pool, caller.tenant_id) as conn:
            assert await replay(conn, request, Made) is None  # the first has not committed
            second_checked.set()
            await asyncio.sleep(0)
            await remember(conn, request, Made(made_id=uuid.uuid4(), name="second"))

    results = await asyncio.gather(first(), second(), return_exceptions=True)
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(conflicts) == 1, results
    assert [r for r in results if r is not None and not isinstance(r, Conflict)] == []
    assert (await _create(pool, caller, "k-3", b"one")).name in ("first", "second")
