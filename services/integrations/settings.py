"""Settings of the integrations service beyond the common ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated

import msgspec

from services.integrations import SERVICE
from services.integrations.domain.webhooks import RetryPolicy
from shared.config import ServiceSettings, own_settings
from shared.crypto import Keyring, parse_keyring

__all__ = ["IntegrationsSettings", "integrations_settings"]


class IntegrationsSettings(ServiceSettings, frozen=True, kw_only=True):
    allow_loopback_http_webhooks: bool = False
    """Development and tests only: webhooks may target the loopback interface, over http too.
    Off in production, where only https to public addresses is allowed."""
    webhook_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 10.0
    webhook_retry_base_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    webhook_retry_cap_seconds: Annotated[float, msgspec.Meta(gt=0)] = 3 * 3600.0
    webhook_retry_window_seconds: Annotated[float, msgspec.Meta(gt=0)] = 27 * 3600.0
    """Retries go on this long after the first attempt (≥ 24 h in production), then the delivery
    is dead-lettered."""
    webhook_poll_interval: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    webhook_concurrency: Annotated[int, msgspec.Meta(ge=1, le=256)] = 16
    """Endpoints worked on at once by one worker (each endpoint one delivery at a time)."""
    webhook_per_tenant_concurrency: Annotated[int, msgspec.Meta(ge=1, le=256)] = 4
    """Of those, at most this many of one tenant: its slow endpoints cannot hold every slot."""
    webhook_secret_rotation_grace_seconds: Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600)] = 24 * 3600
    """How long a rotated-out secret keeps signing beside the new one."""
    webhook_secret_keys: str = ""
    """The keyring sealing webhook signing secrets at rest, inline: ``kid:base64key,...`` (32-byte
    keys, newest last; the newest seals, the older ones still open). Never logged."""
    webhook_secret_keys_file: str = ""
    """Or a JSON file ``{"keys": [{"id": "...", "key": "<base64>"}, ...]}`` (newest last);
    ``tila run`` keeps one in ``.data/webhook-secret-keys.json``."""

    @property
    def webhook_secret_keyring(self) -> Keyring | None:
        """The keyring of the two settings above, or None when neither names a key."""
        keys = parse_keyring(self.webhook_secret_keys, self.webhook_secret_keys_file)
        return Keyring(keys) if keys else None

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base=dt.timedelta(seconds=self.webhook_retry_base_seconds),
            cap=dt.timedelta(seconds=self.webhook_retry_cap_seconds),
            window=dt.timedelta(seconds=self.webhook_retry_window_seconds),
        )


def integrations_settings(
    settings: ServiceSettings | None, environ: Mapping[str, str] | None = None
) -> IntegrationsSettings:
    """``settings`` as :class:`IntegrationsSettings`: the common fields as given, the service's own
    from the environment (``TILA_INTEGRATIONS_*``) or their defaults."""
    return own_settings(SERVICE, settings, IntegrationsSettings, environ)
