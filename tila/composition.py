"""The composition root: the five services, their databases and their settings.

``tila run`` and the test fixtures both use this module, so what the tests boot is what a
developer runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from litestar import Litestar

from shared.config import ServiceSettings, load_settings
from shared.db.migrate import MigrationSource, migrate
from shared.db.provision import DatabaseLayout, provision_database
from shared.events.permissions import render_authorization, service_permissions
from shared.events.streams import STREAMS
from shared.events.worker import Subscription, Worker

__all__ = [
    "SERVICES",
    "create_service_app",
    "create_service_worker",
    "nats_authorization",
    "prepare_databases",
    "service_environment",
    "service_migrations",
]

SERVICES = ("organisations", "orders", "sessions", "billing", "integrations")


def _module(service: str, name: str | None = None) -> ModuleType:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    return importlib.import_module(f"services.{service}" + (f".{name}" if name else ""))


def service_migrations(service: str) -> list[MigrationSource]:
    migrations: list[MigrationSource] = _module(service).MIGRATIONS
    return migrations


def create_service_app(service: str, settings: ServiceSettings | None = None) -> Litestar:
    # Each service loads its own settings class (some have fields of their own) when given None.
    app: Litestar = _module(service, "app").create_app(settings)
    return app


def nats_authorization() -> str:
    """The production NATS ``authorization`` block: one least-privilege user per service, from what
    its worker publishes and the consumers it declares."""
    users = {}
    for service in SERVICES:
        consumers = importlib.import_module(f"services.{service}.consumers")
        subscriptions: list[Subscription] = getattr(consumers, "SUBSCRIPTIONS", [])
        users[service] = service_permissions(
            service, publishes=service in STREAMS, consumers=[s.spec for s in subscriptions]
        )
    return render_authorization(users, password_variable="NATS_PASSWORD")  # noqa: S106 (a variable name)


def create_service_worker(service: str, settings: ServiceSettings | None = None) -> Worker:
    worker: Worker = _module(service, "worker").create_worker(settings or load_settings(service))
    return worker


async def prepare_databases(
    admin_url: str,
    *,
    prefix: str = "tila_",
    secret: str = "tila-dev",  # noqa: S107 (local default)
) -> dict[str, DatabaseLayout]:
    """Create (or update) every service's database and roles, then migrate them as their owners."""
    layouts = {}
    for service in SERVICES:
        layout = DatabaseLayout(admin_url=admin_url, service=service, prefix=prefix, secret=secret)
        await provision_database(layout)
        await migrate(layout.owner_url, service_migrations(service))
        layouts[service] = layout
    return layouts


def service_environment(
    layouts: Mapping[str, DatabaseLayout],
    *,
    nats_url: str,
    jwks_url: str,
    token_issuer: str,
    worker: bool = False,
) -> dict[str, str]:
    """The ``TILA_*`` variables from which the services load their settings.

    Each process gets only the credentials it uses: the API the app role's, a worker also the
    relay role's. The owner's stay with whoever runs the migrations.
    """
    env = {"TILA_NATS_URL": nats_url, "TILA_JWKS_URL": jwks_url, "TILA_TOKEN_ISSUER": token_issuer}
    for service, layout in layouts.items():
        key = service.upper()
        env[f"TILA_{key}_DATABASE_URL"] = layout.app_url
        if worker:
            env[f"TILA_{key}_RELAY_DATABASE_URL"] = layout.relay_url
    return env
