"""``tila``: run the whole platform locally, run workers, migrate, mint a local token.

``tila run`` is what ``make run`` calls: it starts PostgreSQL and NATS JetStream on loopback
(unless ``TILA_PG_ADMIN_URL`` / ``TILA_NATS_URL`` point elsewhere), creates and migrates the
five databases, then serves every service behind one base URL with every worker running.
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

import httpx

from services.demo import DEMO_TENANTS, seed
from services.organisations.domain.login import secret_reference
from services.organisations.domain.tokens import Grant, access_claims
from services.organisations.keys import Keyring, ensure_key_file, rotate_key_file
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
from shared.events.health import start_health_servers
from shared.logging import configure_logging

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
_BIN = Path(sys.executable).parent
_PR_SET_PDEATHSIG = 1


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("TILA_DATA_DIR", REPO / ".data")).resolve()


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


def run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _raise_stop)
    data = _data_dir(args)
    _lock = _lock_data_dir(data)  # released when the process exits
    base = _base_url(args.host, args.port)
    if not _port_is_free(args.host, args.port):
        raise SystemExit(f"{args.host}:{args.port} is in use; stop what listens there or set TILA_PORT")
    if args.metrics_port and not _port_is_free(args.host, args.metrics_port):
        raise SystemExit(f"{args.host}:{args.metrics_port} is in use; set TILA_METRICS_PORT (0 = off)")
    configure_logging(os.environ.get("TILA_LOG_LEVEL", "info"))
    try:
        with servers(
            data,
            pg_port=int(os.environ.get("TILA_PG_PORT", "55432")),
            nats_port=int(os.environ.get("TILA_NATS_PORT", "54222")),
            announce=_say,
        ) as running:
            _say("creating and migrating the service databases")
            layouts = asyncio.run(prepare_databases(running.pg_admin_url, secret=_role_secret(data)))
            key_file = data / "signing-keys.json"
            ensure_key_file(key_file)

            def environment(*, worker: bool) -> dict[str, str]:
                return {
                    **os.environ,
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
                children.append(_serve_http(args, api_env))
                children.append(_spawn([str(_BIN / "tila"), "worker"], worker_env))
                _wait_ready(base, children)
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


def _serve_http(args: argparse.Namespace, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [str(_BIN / "granian"), "--interface", "asgi", "--factory", "--no-ws"]
    command += ["--host", args.host, "--port", str(args.port), "--workers", str(args.workers)]
    return _spawn([*command, "services.gateway:create_gateway"], env)


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


def _wait_ready(base: str, children: Sequence[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    pending = set(SERVICES)
    with httpx.Client(timeout=2) as client:
        while pending and time.monotonic() < deadline:
            if any(child.poll() is not None for child in children):
                raise SystemExit("a Tila process exited during start-up; see the output above")
            for service in sorted(pending):
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{base}/{service}/health/ready").status_code == 200:
                        pending.discard(service)
            time.sleep(0.2)
    if pending:
        raise SystemExit(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))}")


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
    keyring = Keyring.load(_data_dir(args) / "signing-keys.json")
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
            raise SystemExit(f"could not start the login: {started.status_code} {started.text}")
        authorize = started.headers["location"]
        # The provider's login page; the demo providers only ask which user to be.
        answer = browser.post(authorize, data={"sub": args.user})
        if answer.status_code != 302:
            raise SystemExit(f"the identity provider refused: {answer.status_code}")
        tokens = browser.get(answer.headers["location"])
    if tokens.status_code != 200:
        raise SystemExit(f"login failed: {tokens.text}")
    print(tokens.text if args.json else tokens.json()["access_token"])
    return 0


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
        pg = f"postgresql://127.0.0.1:{os.environ.get('TILA_PG_PORT', '55432')}/postgres"
        url = DatabaseLayout(admin_url=pg, service="sessions", secret=_role_secret(_data_dir(args))).app_url
    tenant = uuid.UUID(args.tenant)

    async def check() -> tuple[bool, str]:
        pool = await create_pool(url, min_size=1, max_size=1)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tila", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", help="where the embedded servers keep their data (default .data)")
    parser.add_argument("--host", default=os.environ.get("TILA_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TILA_PORT", "8000")))
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start the whole platform on one base URL")
    run_parser.add_argument("--workers", type=int, default=1, help="HTTP worker processes")
    run_parser.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ.get("TILA_METRICS_PORT", "8090")),
        help="serve the APIs' Prometheus metrics on this port, 0 = off (default: TILA_METRICS_PORT, 8090)",
    )
    run_parser.set_defaults(func=run)
    worker_parser = commands.add_parser("worker", help="run service workers (outbox relays and consumers)")
    worker_parser.add_argument("--service", action="append", choices=SERVICES)
    worker_parser.add_argument(
        "--health-port",
        type=int,
        help="serve /live, /ready and /metrics on this port, 0 = off (default: TILA_WORKER_HEALTH_PORT, off)",
    )
    worker_parser.set_defaults(func=worker)
    migrate_parser = commands.add_parser("migrate", help="migrate service databases (owner URLs from env)")
    migrate_parser.add_argument("--service", action="append", choices=SERVICES)
    migrate_parser.set_defaults(func=migrate_command)
    token_parser = commands.add_parser("token", help="mint a local access token (embedded default only)")
    token_parser.add_argument("--tenant", help="tenant id (tid); default the nil UUID")
    token_parser.add_argument("--role", action="append", default=[], help="a role; repeat for more")
    token_parser.add_argument("--scope", action="append", default=[], help="a scope; repeat for more")
    token_parser.add_argument("--subject")
    token_parser.add_argument("--minutes", type=int, default=10)
    token_parser.set_defaults(func=token)
    login_parser = commands.add_parser(
        "login", help="log in through a tenant's provider; print the access token"
    )
    login_parser.add_argument("--tenant", required=True, help="tenant id, or a demo tenant's name")
    login_parser.add_argument("--user", required=True, help="the user's subject at the provider")
    login_parser.add_argument("--json", action="store_true", help="print the whole token response")
    login_parser.set_defaults(func=login)
    nats_parser = commands.add_parser(
        "nats-authorization", help="print the production NATS users and permissions"
    )
    nats_parser.set_defaults(func=nats_config)
    rotate_parser = commands.add_parser("rotate-keys", help="rotate the token signing keyring")
    rotate_parser.add_argument("--keyring", help="the keyring file (default: the local stack's)")
    rotate_parser.add_argument(
        "--activate-in", type=int, default=300, help="seconds the new key is published before it signs"
    )
    rotate_parser.set_defaults(func=rotate_keys)
    audit_parser = commands.add_parser(
        "audit-verify", help="verify a tenant's hash-chained content audit log"
    )
    audit_parser.add_argument("--tenant", required=True, help="tenant id")
    audit_parser.add_argument(
        "--database-url", help="the sessions app role URL (default: TILA_SESSIONS_DATABASE_URL)"
    )
    audit_parser.set_defaults(func=audit_verify)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
