"""Settings from the environment into frozen msgspec Structs.

A service reads ``TILA_<SERVICE>_<FIELD>`` first and ``TILA_<FIELD>`` second, so one
environment can hold the shared values (NATS URL, JWKS URL) and the per-service ones
(database URLs) side by side.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, TypeVar, overload

import msgspec

__all__ = ["ServiceSettings", "SettingsError", "load_settings", "own_settings"]


class SettingsError(ValueError):
    """Raised when the environment does not describe valid settings."""


class ServiceSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What every service needs to run its API and its worker."""

    service: str
    database_url: str
    """Connection URL of the service's app role (no ownership, no BYPASSRLS)."""
    owner_database_url: str = ""
    """Connection URL of the owner role; used only to run migrations."""
    relay_database_url: str = ""
    """Connection URL of the narrow role that reads and marks the outbox."""
    nats_url: str = "nats://127.0.0.1:4222"
    jwks_url: str = ""
    token_issuer: str = "tila"  # noqa: S105 (an issuer name, not a secret)
    token_audience: str = "tila"  # noqa: S105 (an audience name, not a secret)
    log_level: str = "info"
    db_pool_min: int = 1
    db_pool_max: int = 10
    outbox_poll_interval: float = 1.0
    worker_health_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    """Where the worker serves ``/live``, ``/ready`` and ``/metrics`` (all interfaces); 0 = off."""
    metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    """Where an API process serves ``GET /metrics`` (not the API port, which the ingress routes); 0 = off."""
    metrics_host: str = ""
    """The address the metrics port listens on; empty = every interface (a pod's address)."""
    rate_limit_per_second: float = 100.0
    """Requests a second per tenant (per client address without a token), per API process."""
    rate_limit_burst: int = 200
    rate_limit_in_flight: int = 32
    """Requests of one tenant in progress at once, per API process."""
    trusted_proxies: str = ""
    """CIDRs (comma separated) of the proxies (the ingress) whose X-Forwarded-For/Forwarded name
    the client address the rate limits key by; empty: those headers are ignored."""


S = TypeVar("S", bound=ServiceSettings)


@overload
def load_settings(service: str, environ: Mapping[str, str] | None = None) -> ServiceSettings: ...
@overload
def load_settings(service: str, environ: Mapping[str, str] | None = None, *, cls: type[S]) -> S: ...
def load_settings(
    service: str, environ: Mapping[str, str] | None = None, *, cls: type[ServiceSettings] = ServiceSettings
) -> ServiceSettings:
    """Build a service's settings (``cls``, a subclass for service-specific fields) from ``environ``."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {"service": service}
    for field in msgspec.structs.fields(cls):
        if field.name == "service":
            continue
        key = field.name.upper()
        value = env.get(f"TILA_{service.upper()}_{key}", env.get(f"TILA_{key}"))
        if value is not None:
            raw[field.name] = value
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid settings for {service}: {exc}") from exc


def own_settings(
    service: str, settings: ServiceSettings | None, cls: type[S], environ: Mapping[str, str] | None = None
) -> S:
    """``settings`` as the service's own settings class ``cls``: the common fields as given, the
    service's own fields from ``environ`` (``TILA_<SVC>_*``) or their defaults — what a service's
    ``create_app`` and worker need when the platform or a test hands them plain settings."""
    if isinstance(settings, cls):
        return settings
    if settings is None:
        return load_settings(service, environ, cls=cls)
    env = dict(os.environ if environ is None else environ)
    own = load_settings(
        service, env | {f"TILA_{service.upper()}_DATABASE_URL": settings.database_url}, cls=cls
    )
    return cls(**(msgspec.structs.asdict(own) | msgspec.structs.asdict(settings)))
