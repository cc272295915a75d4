"""``tila``: run the whole platform locally, run workers, migrate, mint a local token.

``tila run`` is what ``make run`` calls: it starts PostgreSQL and NATS JetStream on loopback
(unless ``TILA_PG_ADMIN_URL`` / ``TILA_NATS_URL`` point elsewhere), creates and migrates the
five databases, then serves every service behind one base URL with every worker running.

Every command reads the same settings as ``tila run`` — ``TILA_HOST``, ``TILA_PORT``,
``TILA_DATA_DIR``, ``TILA_PG_PORT``, ``TILA_PG_ADMIN_URL``, ``TILA_PG_ROLE_SECRET`` — and the
options ``--host``, ``--port``, ``--data-dir`` and ``--pg-port`` override them, before or after the
command's name. A refusal is one line on stderr (``tila: …``) and a non-zero exit code;
``TILA_DEBUG=1`` shows the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import datetime as dt
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import nats

from services.demo import DEMO_TENANTS, seed
from services.organisations.adapters.keys import Keyring, ensure_key_file, rotate_key_file
from services.organisations.domain.login import secret_reference
from services.organisations.domain.tokens import Grant, access_claims
from services.organisations.settings import ACCESS_TOKEN_TTL_SECONDS
from services.platform import (
    SERVICES,
    create_service_worker,
    nats_authorization,
    prepare_databases,
    service_environment,
)
from shared.auth.tokens import sign_token
from shared.crypto import ensure_keyring_file
from shared.db.migrate import migrate
from shared.embedded import servers
from shared.embedded.oidc import EmbeddedOidcProvider
from shared.events.health import WorkerHealthServer, start_health_servers
from shared.events.streams import STREAMS, ensure_stream
from shared.logging import configure_logging

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
_BIN = Path(sys.executable).parent
_PR_SET_PDEATHSIG = 1


class CliError(Exception):
    """A refusal the user can act on: printed as one line, exit code 1."""


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("TILA_DATA_DIR") or REPO / ".data").resolve()


def _pg_address(args: argparse.Namespace) -> tuple[str, int]:
    """Where the local stack's PostgreSQL listens: ``--pg-port``, else ``TILA_PG_ADMIN_URL``'s host
    and port, else 127.0.0.1 and ``TILA_PG_PORT`` (55432) — as ``tila run`` chooses."""
    if args.pg_port is not None:
        return "127.0.0.1", args.pg_port
    if admin := os.environ.get("TILA_PG_ADMIN_URL"):
        parts = urlsplit(admin)
        return parts.hostname or "127.0.0.1", parts.port or 5432
    return "127.0.0.1", int(os.environ.get("TILA_PG_PORT") or "55432")


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if isinstance(exc, ConnectionRefusedError) or "refused" in text:
        return "connection refused"
    if isinstance(exc, TimeoutError | httpx.TimeoutException) or "timed out" in text:
        return "timed out"
    return type(exc).__name__


def _base_url(host: str, port: int) -> str:
    return f"http://{host}:{port}"


def _say(text: str) -> None:
    print(text, flush=True)


class _Stop(Exception):
    """SIGTERM during start-up: unwind through the clean-up below."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signum)


def _lock_data_dir(data: Path) -> int:
    """Hold an exclusive lock on the data folder for this run (two runs would share servers)."""
    data.mkdir(parents=True, exist_ok=True)
    fd = os.open(data / "run.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"another `tila run` is using {data}; stop it first") from None
    return fd


def _log_level(args: argparse.Namespace) -> str:
    """Quiet by default under ``tila run`` (warnings and errors, no line per request), so the
    banner stays readable; ``--verbose`` or ``TILA_LOG_LEVEL`` choose otherwise."""
    if getattr(args, "verbose", False):
        return "info"
    return os.environ.get("TILA_LOG_LEVEL") or "warning"


async def _ensure_streams(nats_url: str) -> None:
    """Every service's stream, before any worker starts: a consumer then finds its producer's
    stream at once instead of retrying with a warning until that producer's worker made it."""
    client = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = client.jetstream()
        for spec in STREAMS.values():
            await ensure_stream(js, spec)
    finally:
        await client.close()


def run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _raise_stop)
    data = _data_dir(args)
    _lock = _lock_data_dir(data)  # released when the process exits
    base = _base_url(args.host, args.port)
    if not _port_is_free(args.host, args.port):
        raise SystemExit(f"{args.host}:{args.port} is in use; stop what listens there or set TILA_PORT")
    if args.metrics_port and not _port_is_free(args.host, args.metrics_port):
        raise SystemExit(f"{args.host}:{args.metrics_port} is in use; set TILA_METRICS_PORT (0 = off)")
    level = _log_level(args)
    configure_logging(level)
    try:
        with servers(
            data,
            pg_port=_pg_address(args)[1],
            nats_port=int(os.environ.get("TILA_NATS_PORT") or "54222"),
            announce=_say,
        ) as running:
            _say("creating and migrating the service databases")
            layouts = asyncio.run(prepare_databases(running.pg_admin_url, secret=_role_secret(data)))
            key_file = data / "signing-keys.json"
            ensure_key_file(key_file)

            try:
                asyncio.run(_ensure_streams(running.nats_url))
            except Exception as exc:  # a NATS of its own whose users may not: each worker makes its own
                _say(f"the streams are left to the workers ({type(exc).__name__})")

            def environment(*, worker: bool) -> dict[str, str]:
                return {
                    **os.environ,
                    "TILA_LOG_LEVEL": level,
                    **service_environment(
                        layouts,
                        nats_url=running.nats_url,
                        jwks_url=f"{base}/organisations/.well-known/jwks.json",
                        token_issuer=f"{base}/organisations",
                        worker=worker,
                    ),
                }

            webhook_keys = str(ensure_keyring_file(data / "webhook-secret-keys.json"))
            api_env = environment(worker=False) | {
                "TILA_ORGANISATIONS_SIGNING_KEYS_FILE": str(key_file),
                "TILA_ORGANISATIONS_PUBLIC_BASE_URL": base,
                "TILA_ORGANISATIONS_ALLOW_LOOPBACK_HTTP_ISSUERS": "true",
                "TILA_SESSIONS_CONTENT_KEYS_FILE": str(ensure_keyring_file(data / "content-keys.json")),
                "TILA_INTEGRATIONS_ALLOW_LOOPBACK_HTTP_WEBHOOKS": "true",
                "TILA_INTEGRATIONS_WEBHOOK_SECRET_KEYS_FILE": webhook_keys,
                # Every service's HTTP metrics on one port of their own, never under the base URL.
                "TILA_METRICS_PORT": str(args.metrics_port),
                "TILA_METRICS_HOST": args.host,
            }
            # The local stack may send webhooks to a receiver on this machine (never in production).
            worker_env = environment(worker=True) | {
                "TILA_INTEGRATIONS_ALLOW_LOOPBACK_HTTP_WEBHOOKS": "true",
                "TILA_INTEGRATIONS_WEBHOOK_SECRET_KEYS_FILE": webhook_keys,
            }
            children: list[subprocess.Popen[bytes]] = []
            providers: list[EmbeddedOidcProvider] = []
            try:
                if os.environ.get("TILA_DEMO", "1") != "0":
                    providers = _start_demo_providers(data)
                    issuers = {demo.key: p.issuer for demo, p in zip(DEMO_TENANTS, providers, strict=True)}
                    _say("seeding the demo tenants, people and their identity providers")
                    demo = asyncio.run(seed(layouts["organisations"].app_url, issuers, data / "demo.json"))
                    # Each tenant's client secret sits where Tila looks for it (the demo providers
                    # accept any secret; real ones come from the deployment's secret store).
                    for tenant in demo["tenants"].values():
                        api_env[secret_reference(uuid.UUID(tenant["id"])).removeprefix("env:")] = (
                            "demo-secret"
                        )
                children.append(_serve_http(args, api_env, quiet=level != "info"))
                health_port = _free_port()
                worker_command = [str(_BIN / "tila"), "worker", "--health-host", "127.0.0.1"]
                worker_command += ["--health-port", str(health_port)]
                children.append(_spawn(worker_command, worker_env))
                _wait_ready(base, children, worker_ready=f"http://127.0.0.1:{health_port}/ready")
                # Last, once every API and worker is ready: nothing of the start-up follows it.
                _say(_banner(base, key_file, args, data if providers else None))
                return _wait_for_stop(children)
            finally:
                _stop(children)
                for provider in providers:
                    provider.stop()
    except (_Stop, KeyboardInterrupt):
        return 0
    finally:
        _say("stopped")


def _role_secret(data: Path) -> str:
    """The secret the service roles' passwords derive from: TILA_PG_ROLE_SECRET, or one kept
    (owner-only) in the data folder."""
    if configured := os.environ.get("TILA_PG_ROLE_SECRET"):
        return configured
    path = data / "role-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _die_with_parent() -> None:
    # Linux: if `tila run` is killed outright, its children go too instead of serving on.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=REPO, preexec_fn=_die_with_parent)


def _serve_http(args: argparse.Namespace, env: dict[str, str], *, quiet: bool) -> subprocess.Popen[bytes]:
    command = [str(_BIN / "granian"), "--interface", "asgi", "--factory", "--no-ws"]
    command += ["--host", args.host, "--port", str(args.port), "--workers", str(args.workers)]
    command += ["--no-access-log", "--log-level", "warning" if quiet else "info"]
    return _spawn([*command, "services.gateway:create_gateway"], env)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(host: str, port: int) -> bool:
    # A bind without SO_REUSEPORT fails while anything listens there (granian would share the
    # port with a stale server); SO_REUSEADDR lets it past connections left in TIME_WAIT.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _wait_ready(
    base: str, children: Sequence[subprocess.Popen[bytes]], *, worker_ready: str, timeout: float = 120
) -> None:
    """Until every service's API and the workers (their health server's ``/ready``) answer 200."""
    deadline = time.monotonic() + timeout
    pending = {f"{base}/{service}/health/ready": service for service in SERVICES}
    pending[worker_ready] = "workers"
    with httpx.Client(timeout=2) as client:
        while pending and time.monotonic() < deadline:
            if any(child.poll() is not None for child in children):
                raise SystemExit("a Tila process exited during start-up; see the output above")
            for url in sorted(pending):
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        del pending[url]
            time.sleep(0.2)
    if pending:
        raise SystemExit(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending.values()))}")


def _start_demo_providers(data: Path) -> list[EmbeddedOidcProvider]:
    """One OpenID provider process per demo tenant, on TILA_DEMO_IDP_PORTS (default 54401,54402)."""
    ports = [int(p) for p in os.environ.get("TILA_DEMO_IDP_PORTS", "54401,54402").split(",")]
    providers = []
    for demo, port in zip(DEMO_TENANTS, ports, strict=True):
        provider = EmbeddedOidcProvider(
            port, [user.claims() for user in demo.users], log_file=data / f"idp-{demo.key}.log"
        )
        _say(f"starting the identity provider of {demo.name} at {provider.issuer}")
        provider.start()
        providers.append(provider)
    return providers


def _banner(base: str, key_file: Path, args: argparse.Namespace, demo_data: Path | None = None) -> str:
    lines = ["", f"Tila is running at {base}", ""]
    for service in SERVICES:
        lines.append(f"  {service:<14} {base}/{service}/schema   (ready: {base}/{service}/health/ready)")
    if args.metrics_port:
        lines.append(f"  {'metrics':<14} {_base_url(args.host, args.metrics_port)}/metrics   (every service)")
    lines += [
        "",
        "A platform-admin token for the local stack:",
        f"  TOKEN=$(.venv/bin/tila{_where(args)} token --role platform_admin)   # signed with {key_file}",
    ]
    if demo_data is not None:
        lines += ["", "Demo logins, each through its tenant's own identity provider:"]
        for demo in DEMO_TENANTS:
            users = ", ".join(user.subject for user in demo.users)
            lines.append(f"  {demo.key:<14} {demo.name}: {users}")
        lines += [
            f"  TOKEN=$(.venv/bin/tila{_where(args)} login --tenant demo-buyer --user aino.admin)",
            f'  curl -s {base}/organisations/cost-centres -H "Authorization: Bearer $TOKEN"',
            f"  in a browser: {base}/organisations/login/<tenant id from {demo_data / 'demo.json'}>/start",
        ]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def _where(args: argparse.Namespace) -> str:
    """The options a later `tila token` needs to match this run (none for the defaults)."""
    options = ""
    if args.data_dir:
        options += f" --data-dir {args.data_dir}"
    if args.port != 8000:
        options += f" --port {args.port}"
    return options


def _wait_for_stop(children: Sequence[subprocess.Popen[bytes]]) -> int:
    stop = {"signal": 0}

    def on_signal(signum: int, _frame: object) -> None:
        stop["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop["signal"]:
        for child in children:
            if child.poll() is not None:
                _say(f"process {child.pid} exited with {child.returncode}")
                return 1
        time.sleep(0.3)
    return 0


def _stop(children: Sequence[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def worker(args: argparse.Namespace) -> int:
    configure_logging(os.environ.get("TILA_LOG_LEVEL", "info"))
    services = args.service or list(SERVICES)

    async def run_all() -> None:
        workers = [create_service_worker(service) for service in services]
        if args.health_host and args.health_port:
            only = WorkerHealthServer(workers, port=args.health_port, host=args.health_host)
            await only.start()
            health = [only]
        else:
            health = await start_health_servers(workers, port=args.health_port)
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        assert current is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, current.cancel)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*(w.run() for w in workers))
        finally:
            for server in health:
                await server.close()

    asyncio.run(run_all())
    return 0


def migrate_command(args: argparse.Namespace) -> int:
    """Migrate every service database with its owner URL from the environment (production use)."""
    from services.platform import service_migrations
    from shared.config import load_settings

    configure_logging("info")
    for service in args.service or SERVICES:
        settings = load_settings(service)
        if not settings.owner_database_url:
            raise SystemExit(f"TILA_{service.upper()}_OWNER_DATABASE_URL is not set")
        applied = asyncio.run(migrate(settings.owner_database_url, service_migrations(service)))
        _say(f"{service}: {len(applied)} migration(s) applied")
    return 0


def token(args: argparse.Namespace) -> int:
    """Mint an access token with the local stack's keyring (the embedded default only)."""
    keys = _data_dir(args) / "signing-keys.json"
    if not keys.exists():
        raise CliError(f"no signing keys at {keys} — start the local stack once with `make run`")
    keyring = Keyring.load(keys)
    grant = Grant(
        tenant_id=uuid.UUID(args.tenant) if args.tenant else uuid.UUID(int=0),
        subject=args.subject or f"local-{uuid.uuid4()}",
        roles=tuple(args.role),
        scopes=tuple(args.scope),
    )
    claims = access_claims(
        grant,
        issuer=f"{_base_url(args.host, args.port)}/organisations",
        audience="tila",
        now=dt.datetime.now(dt.UTC),
        lifetime=dt.timedelta(minutes=args.minutes),
    )
    print(sign_token(keyring.signing_key(), claims))
    return 0


def login(args: argparse.Namespace) -> int:
    """Log in as a user through the tenant's own provider, the way a browser would; print the tokens.

    With the demo providers of `tila run`, ``--tenant`` may be a demo tenant's short name.
    """
    base = _base_url(args.host, args.port)
    tenant = args.tenant
    demo_file = _data_dir(args) / "demo.json"
    if demo_file.exists():
        tenant = json.loads(demo_file.read_text())["tenants"].get(tenant, {}).get("id", tenant)
    with httpx.Client(timeout=10) as browser:
        started = browser.get(f"{base}/organisations/login/{tenant}/start")
        if started.status_code != 302:
            raise CliError(f"could not start the login of {tenant}: {_one_line(started)}")
        authorize = started.headers["location"]
        # The provider's login page; the demo providers only ask which user to be.
        try:
            answer = browser.post(authorize, data={"sub": args.user})
        except httpx.TransportError as exc:
            where = urlsplit(authorize)
            raise CliError(
                f"cannot reach the identity provider at {where.scheme}://{where.netloc} ({_reason(exc)})"
            ) from None
        if answer.status_code != 302:
            raise CliError(f"the identity provider refused {args.user}: {answer.status_code}")
        tokens = browser.get(answer.headers["location"])
    if tokens.status_code != 200:
        raise CliError(f"login failed: {_one_line(tokens)}")
    print(tokens.text if args.json else tokens.json()["access_token"])
    return 0


def _one_line(response: httpx.Response) -> str:
    """A refusal's status and its problem's detail (or title), on one line."""
    try:
        body = response.json()
        text = str(body.get("detail") or body.get("title") or "") if isinstance(body, dict) else ""
    except ValueError:
        text = response.text
    return f"{response.status_code} {' '.join(text.split())[:200]}".strip()


def nats_config(args: argparse.Namespace) -> int:
    """Print the production NATS users and permissions (deploy/nats/authorization.conf)."""
    print(nats_authorization(), end="")
    return 0


def rotate_keys(args: argparse.Namespace) -> int:
    """Add a signing key and retire the current one (still published until its tokens expire)."""
    path = Path(args.keyring) if args.keyring else _data_dir(args) / "signing-keys.json"
    delay = dt.timedelta(seconds=args.activate_in)
    kid = rotate_key_file(path, dt.timedelta(seconds=ACCESS_TOKEN_TTL_SECONDS), delay)
    _say(f"new signing key {kid} in {path}: published now, signing in {args.activate_in} s")
    return 0


def audit_verify(args: argparse.Namespace) -> int:
    """Verify a tenant's content audit chain in the sessions database; exit 1 when it is broken."""
    from services.sessions.handlers.content import verify_audit
    from shared.db.pool import create_pool
    from shared.db.provision import DatabaseLayout

    url = args.database_url or os.environ.get("TILA_SESSIONS_DATABASE_URL")
    if not url:  # the embedded default: the app role of the local stack's sessions database
        host, port = _pg_address(args)
        data = _data_dir(args)
        if not os.environ.get("TILA_PG_ROLE_SECRET") and not (data / "role-secret").exists():
            raise CliError(f"no local stack in {data} — start it with `make run`, or give --database-url")
        pg = f"postgresql://{host}:{port}/postgres"
        url = DatabaseLayout(admin_url=pg, service="sessions", secret=_role_secret(data)).app_url
    try:
        tenant = uuid.UUID(args.tenant)
    except ValueError:
        raise CliError(f"--tenant {args.tenant!r} is not a tenant id (a UUID)") from None
    where = urlsplit(url)
    database = f"PostgreSQL at {where.hostname}:{where.port or 5432}"

    async def check() -> tuple[bool, str]:
        try:
            pool = await create_pool(url, min_size=1, max_size=1)
        except (OSError, asyncpg.CannotConnectNowError) as exc:
            raise CliError(f"cannot reach {database} ({_reason(exc)}) — is `make run` running?") from None
        except asyncpg.PostgresError as exc:
            raise CliError(f"{database} refused the sessions app role: {type(exc).__name__}") from None
        try:
            result = await verify_audit(pool, tenant)
        finally:
            await pool.close()
        if result.ok:
            head = result.head.hex() if result.head else "-"
            return True, f"content audit of {tenant}: {result.entries} entries, chain intact, head {head}"
        return False, f"content audit of {tenant}: BROKEN at entry {result.broken_at}: {result.problem}"

    ok, message = asyncio.run(check())
    _say(message)
    return 0 if ok else 1


def _common_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The settings every command shares, defaulting to the environment ``tila run`` reads.

    On the commands themselves they default to "not given", so ``tila --port 8001 login`` and
    ``tila login --port 8001`` both work and neither undoes the other."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--data-dir",
        default=default(None),
        help="where the embedded servers keep their data (default: TILA_DATA_DIR, else .data)",
    )
    parser.add_argument(
        "--host",
        default=default(os.environ.get("TILA_HOST") or "127.0.0.1"),
        help="the platform's host (default: TILA_HOST, else 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=default(int(os.environ.get("TILA_PORT") or "8000")),
        help="the platform's port (default: TILA_PORT, else 8000)",
    )
    parser.add_argument(
        "--pg-port",
        type=int,
        default=default(None),
        help="the embedded PostgreSQL's port (default: TILA_PG_ADMIN_URL's, else TILA_PG_PORT, else 55432)",
    )


def demo(args: argparse.Namespace) -> int:
    """Drive the whole journey over HTTP against a running `make run`, printing each step."""
    from services.demo import DemoError, run_journey

    base = _base_url(args.host, args.port)
    _say(f"the journey against {base}, dates relative to now:")
    try:
        run_journey(base, _data_dir(args) / "demo.json", _say)
    except DemoError as exc:
        raise CliError(str(exc)) from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tila", description=__doc__.splitlines()[0] if __doc__ else None)
    _common_options(parser, defaults=True)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, defaults=False)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", parents=[common], help="start the whole platform on one base URL")
    run_parser.add_argument("--workers", type=int, default=1, help="HTTP worker processes")
    run_parser.add_argument(
        "--verbose",
        action="store_true",
        help="log at info, a line per request too (default: TILA_LOG_LEVEL, else warnings only)",
    )
    run_parser.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ.get("TILA_METRICS_PORT", "8090")),
        help="serve the APIs' Prometheus metrics on this port, 0 = off (default: TILA_METRICS_PORT, 8090)",
    )
    run_parser.set_defaults(func=run)
    worker_parser = commands.add_parser(
        "worker", parents=[common], help="run service workers (outbox relays and consumers)"
    )
    worker_parser.add_argument("--service", action="append", choices=SERVICES)
    worker_parser.add_argument(
        "--health-port",
        type=int,
        help="serve /live, /ready and /metrics on this port, 0 = off (default: TILA_WORKER_HEALTH_PORT, off)",
    )
    worker_parser.add_argument(
        "--health-host", help="the address the health server listens on (default: every interface)"
    )
    worker_parser.set_defaults(func=worker)
    migrate_parser = commands.add_parser(
        "migrate", parents=[common], help="migrate service databases (owner URLs from env)"
    )
    migrate_parser.add_argument("--service", action="append", choices=SERVICES)
    migrate_parser.set_defaults(func=migrate_command)
    token_parser = commands.add_parser(
        "token", parents=[common], help="mint a local access token (embedded default only)"
    )
    token_parser.add_argument("--tenant", help="tenant id (tid); default the nil UUID")
    token_parser.add_argument("--role", action="append", default=[], help="a role; repeat for more")
    token_parser.add_argument("--scope", action="append", default=[], help="a scope; repeat for more")
    token_parser.add_argument("--subject")
    token_parser.add_argument("--minutes", type=int, default=10)
    token_parser.set_defaults(func=token)
    login_parser = commands.add_parser(
        "login", parents=[common], help="log in through a tenant's provider; print the access token"
    )
    login_parser.add_argument("--tenant", required=True, help="tenant id, or a demo tenant's name")
    login_parser.add_argument("--user", required=True, help="the user's subject at the provider")
    login_parser.add_argument("--json", action="store_true", help="print the whole token response")
    login_parser.set_defaults(func=login)
    nats_parser = commands.add_parser(
        "nats-authorization", parents=[common], help="print the production NATS users and permissions"
    )
    nats_parser.set_defaults(func=nats_config)
    rotate_parser = commands.add_parser(
        "rotate-keys", parents=[common], help="rotate the token signing keyring"
    )
    rotate_parser.add_argument("--keyring", help="the keyring file (default: the local stack's)")
    rotate_parser.add_argument(
        "--activate-in", type=int, default=300, help="seconds the new key is published before it signs"
    )
    rotate_parser.set_defaults(func=rotate_keys)
    audit_parser = commands.add_parser(
        "audit-verify", parents=[common], help="verify a tenant's hash-chained content audit log"
    )
    audit_parser.add_argument("--tenant", required=True, help="tenant id")
    audit_parser.add_argument(
        "--database-url", help="the sessions app role URL (default: TILA_SESSIONS_DATABASE_URL)"
    )
    audit_parser.set_defaults(func=audit_verify)
    demo_parser = commands.add_parser(
        "demo",
        parents=[common],
        help="drive the journey (agreement → order → sessions → invoice) against a running `make run`",
    )
    demo_parser.set_defaults(func=demo)
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except CliError as exc:
        return _fail(str(exc))
    except httpx.TransportError as exc:
        base = _base_url(args.host, args.port)
        return _fail(f"cannot reach {base} ({_reason(exc)}) — is `make run` running?")
    except Exception as exc:
        if os.environ.get("TILA_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        return _fail(f"{type(exc).__name__}: {first} (TILA_DEBUG=1 shows where)")
    return result


def _fail(message: str) -> int:
    print(f"tila: {message}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
