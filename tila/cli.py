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
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import nats

from services.organisations import cli as organisations_cli
from services.organisations.adapters.keys import ensure_key_file
from services.organisations.domain.login import secret_reference
from services.sessions import cli as sessions_cli
from shared.cli import CliError, Command, base_url, data_dir, pg_address, reason, role_secret, say
from shared.crypto import ensure_keyring_file
from shared.db.migrate import migrate
from shared.embedded import servers
from shared.embedded.oidc import EmbeddedOidcProvider
from shared.events.health import WorkerHealthServer, start_health_servers
from shared.events.streams import STREAMS, ensure_stream
from shared.logging import configure_logging
from tila.composition import (
    SERVICES,
    create_service_worker,
    nats_authorization,
    prepare_databases,
    service_environment,
)
from tila.demo import DEMO_TENANTS, seed

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
_BIN = Path(sys.executable).parent
_PR_SET_PDEATHSIG = 1


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
    data = data_dir(args)
    _lock = _lock_data_dir(data)  # released when the process exits
    base = base_url(args.host, args.port)
    if not _port_is_free(args.host, args.port):
        raise SystemExit(f"{args.host}:{args.port} is in use; stop what listens there or set TILA_PORT")
    if args.metrics_port and not _port_is_free(args.host, args.metrics_port):
        raise SystemExit(f"{args.host}:{args.metrics_port} is in use; set TILA_METRICS_PORT (0 = off)")
    level = _log_level(args)
    configure_logging(level)
    try:
        with servers(
            data,
            pg_port=pg_address(args)[1],
            nats_port=int(os.environ.get("TILA_NATS_PORT") or "54222"),
            announce=say,
        ) as running:
            say("creating and migrating the service databases")
            layouts = asyncio.run(prepare_databases(running.pg_admin_url, secret=role_secret(data)))
            key_file = data / "signing-keys.json"
            ensure_key_file(key_file)

            try:
                asyncio.run(_ensure_streams(running.nats_url))
            except Exception as exc:  # a NATS of its own whose users may not: each worker makes its own
                say(f"the streams are left to the workers ({type(exc).__name__})")

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
                    say("seeding the demo tenants, people and their identity providers")
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
                say(_banner(base, key_file, args, data if providers else None))
                return _wait_for_stop(children)
            finally:
                _stop(children)
                for provider in providers:
                    provider.stop()
    except (_Stop, KeyboardInterrupt):
        return 0
    finally:
        say("stopped")


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
    return _spawn([*command, "tila.gateway:create_gateway"], env)


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
        say(f"starting the identity provider of {demo.name} at {provider.issuer}")
        provider.start()
        providers.append(provider)
    return providers


def _banner(base: str, key_file: Path, args: argparse.Namespace, demo_data: Path | None = None) -> str:
    lines = ["", f"Tila is running at {base}", ""]
    for service in SERVICES:
        lines.append(f"  {service:<14} {base}/{service}/schema   (ready: {base}/{service}/health/ready)")
    if args.metrics_port:
        lines.append(f"  {'metrics':<14} {base_url(args.host, args.metrics_port)}/metrics   (every service)")
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
                say(f"process {child.pid} exited with {child.returncode}")
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
    from shared.config import load_settings
    from tila.composition import service_migrations

    configure_logging("info")
    for service in args.service or SERVICES:
        settings = load_settings(service)
        if not settings.owner_database_url:
            raise SystemExit(f"TILA_{service.upper()}_OWNER_DATABASE_URL is not set")
        applied = asyncio.run(migrate(settings.owner_database_url, service_migrations(service)))
        say(f"{service}: {len(applied)} migration(s) applied")
    return 0


def login(args: argparse.Namespace) -> int:
    """Log in as a user through the tenant's own provider, the way a browser would; print the tokens.

    With the demo providers of `tila run`, ``--tenant`` may be a demo tenant's short name.
    """
    base = base_url(args.host, args.port)
    tenant = args.tenant
    demo_file = data_dir(args) / "demo.json"
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
                f"cannot reach the identity provider at {where.scheme}://{where.netloc} ({reason(exc)})"
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
    from tila.demo import DemoError, run_journey

    base = base_url(args.host, args.port)
    say(f"the journey against {base}, dates relative to now:")
    try:
        run_journey(base, data_dir(args) / "demo.json", say)
    except DemoError as exc:
        raise CliError(str(exc)) from None
    return 0


def service_commands() -> list[Command]:
    """The commands the services contribute, each from its own ``cli`` module."""
    return [*organisations_cli.commands(), *sessions_cli.commands()]


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
    for command in service_commands():
        service_parser = commands.add_parser(command.name, parents=[common], help=command.help)
        command.configure(service_parser)
        service_parser.set_defaults(func=command.run)
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
        base = base_url(args.host, args.port)
        return _fail(f"cannot reach {base} ({reason(exc)}) — is `make run` running?")
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
