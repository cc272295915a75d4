"""One place that assembles a service's Litestar app: routes under ``/<service>``, auth,
problem+json, input checks, health, OpenAPI 3.1 and the resources a request needs; metrics on a
port of their own (:mod:`shared.http.metrics`), never on the public one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import asyncpg
from litestar import Litestar, Response, Router, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler
from nats.aio.client import Client as NATS

from shared.auth.guards import provide_principal
from shared.auth.jwks import JwksClient
from shared.auth.middleware import VERIFIER_STATE_KEY, auth_middleware
from shared.auth.tokens import TokenVerifier
from shared.config import ServiceSettings, SettingsError
from shared.db.pool import create_pool
from shared.errors import Unavailable
from shared.events.nats import connect_nats
from shared.http.context import HttpMetrics, RequestContextMiddleware
from shared.http.docs import SwaggerOfflinePlugin, docs_router
from shared.http.errors import PROBLEM_TYPES, ProblemType, exception_handlers
from shared.http.inputs import check_request_inputs
from shared.http.metrics import attach_metrics, detach_metrics
from shared.http.openapi import document_problems
from shared.http.ratelimit import RateLimiter, parse_trusted_proxies, rate_limit_middleware
from shared.logging import configure_logging

__all__ = ["NO_AUTH", "create_service_app", "provide_pool"]

NO_AUTH: list[dict[str, list[str]]] = [{}]
"""``security=NO_AUTH`` on a public route: the OpenAPI document then says it needs no token."""

_READY_TIMEOUT = 2.0


async def provide_pool(state: State) -> asyncpg.Pool:
    pool: asyncpg.Pool = state.pool
    return pool


def _health_router(service: str) -> Router:
    @get(
        "/live",
        operation_id=f"{service}_health_live",
        tags=["health"],
        summary="The process is up",
        security=NO_AUTH,
    )
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/ready",
        operation_id=f"{service}_health_ready",
        tags=["health"],
        summary="Database and NATS reachable",
        security=NO_AUTH,
    )
    async def ready(state: State) -> Response[Any]:
        checks = {"database": await _check_database(state.pool), "nats": await _check_nats(state.nats)}
        healthy = all(v == "ok" for v in checks.values())
        if not healthy:
            raise Unavailable("; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"))
        return Response({"status": "ok", "checks": checks})

    return Router(path="/health", route_handlers=[live, ready])


async def _check_database(pool: asyncpg.Pool) -> str:
    try:
        async with asyncio.timeout(_READY_TIMEOUT):
            await pool.fetchval("select 1")
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok"


async def _check_nats(nc: NATS) -> str:
    if not nc.is_connected:
        return "not connected"
    try:
        async with asyncio.timeout(_READY_TIMEOUT):
            await nc.jetstream().account_info()
    except Exception as exc:
        return f"JetStream unavailable ({type(exc).__name__})"
    return "ok"


def _problems_route(service: str) -> Any:
    @get(
        "/problems",
        operation_id=f"{service}_problem_types",
        tags=["health"],
        summary="Every problem type this API answers with",
        description="The ``type`` URNs of the problem+json (RFC 9457) bodies of every 4xx and 5xx answer, "
        "with their status and meaning.",
        security=NO_AUTH,
    )
    async def problem_types() -> list[ProblemType]:
        return list(PROBLEM_TYPES)

    return problem_types


def create_service_app(
    settings: ServiceSettings,
    *,
    route_handlers: Sequence[ControllerRouterHandler],
    public_paths: Sequence[str] = (),
    unlimited_paths: Sequence[str] = (),
    description: str = "",
    version: str = "0.1.0",
    dependencies: dict[str, Provide] | None = None,
    on_startup: Sequence[Callable[[Litestar], Any]] = (),
    on_shutdown: Sequence[Callable[[Litestar], Any]] = (),
) -> Litestar:
    """Build the app of ``settings.service``; every route lives under ``/<service>``.

    ``public_paths`` are regexes matching whole paths (relative to ``/<service>``) that need no token;
    ``unlimited_paths`` (the same kind) are never rate limited (the JWKS every service fetches).
    """
    service = settings.service
    prefix = f"/{service}"
    configure_logging(settings.log_level)
    metrics = HttpMetrics(service)

    @contextlib.asynccontextmanager
    async def resources(app: Litestar) -> AsyncIterator[None]:
        pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        jwks = JwksClient(settings.jwks_url)
        nc: NATS | None = None
        try:
            nc = await connect_nats(settings.nats_url, name=f"{service}-api", service=service)
            app.state.pool = pool
            app.state.nats = nc
            if settings.metrics_port:
                app.state.metrics_server = await attach_metrics(
                    settings.metrics_port, metrics.registry, settings.metrics_host
                )
            app.state[VERIFIER_STATE_KEY] = TokenVerifier(
                jwks, issuer=settings.token_issuer, audience=settings.token_audience
            )
            yield
        finally:
            if settings.metrics_port:
                await detach_metrics(settings.metrics_port, metrics.registry)
            if nc is not None:
                with contextlib.suppress(Exception):
                    await nc.drain()
            await jwks.aclose()
            await pool.close()

    # Patterns match the whole path.
    exempt = [f"{prefix}/health/(live|ready)", f"{prefix}/problems", f"{prefix}/schema(/.*)?"]
    limiter = RateLimiter(
        rate=settings.rate_limit_per_second,
        burst=settings.rate_limit_burst,
        max_in_flight=settings.rate_limit_in_flight,
    )
    unlimited = list(exempt) + [f"{prefix}{pattern}" for pattern in unlimited_paths]
    try:
        trusted_proxies = parse_trusted_proxies(settings.trusted_proxies)
    except ValueError as exc:
        raise SettingsError(f"TILA_TRUSTED_PROXIES: {exc}") from None
    exempt += [f"{prefix}{pattern}" for pattern in public_paths]

    root = Router(
        path=prefix,
        route_handlers=[_health_router(service), _problems_route(service), *route_handlers],
    )
    app = Litestar(
        route_handlers=[root],
        lifespan=[resources],
        on_startup=list(on_startup),
        on_shutdown=list(on_shutdown),
        # Every handler may take ``pool: Pool`` and ``principal: Caller`` (shared.http.dependencies);
        # a service passes its own "principal" provider to be stricter (integrations: an active tenant).
        dependencies={
            "pool": Provide(provide_pool),
            "principal": Provide(provide_principal),
            **(dependencies or {}),
        },
        exception_handlers=exception_handlers,
        before_request=check_request_inputs,
        middleware=[
            auth_middleware(exclude=exempt),
            rate_limit_middleware(limiter, exclude=unlimited, trusted_proxies=trusted_proxies),
        ],
        openapi_config=OpenAPIConfig(
            title=f"Tila — {service}",
            version=version,
            description=description,
            path=f"{prefix}/schema",
            # Swagger UI from the service's own origin, under a strict CSP (shared.http.docs).
            openapi_router=docs_router(f"{prefix}/schema"),
            render_plugins=[SwaggerOfflinePlugin(f"Tila — {service}")],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                }
            ),
            security=[{"bearer": []}],
        ),
        request_max_body_size=1024 * 1024,
        debug=False,
    )
    # Outside Litestar's own exception handling and routing, so that 401s raised by the auth
    # middleware and 404s for unknown paths are logged, counted and carry X-Request-Id too.
    app.asgi_handler = RequestContextMiddleware(app.asgi_handler, metrics)  # type: ignore[assignment,arg-type]
    document_problems(app)
    return app
