"""Settings of the sessions service beyond the common ones: the content keyring and retention.

The keyring is read with :func:`shared.crypto.parse_keyring` (``tila run`` creates its file with
:func:`shared.crypto.ensure_keyring_file`)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from services.sessions import SERVICE
from services.sessions.adapters.crypto import ContentKeyring
from shared.config import ServiceSettings, own_settings
from shared.crypto import parse_keyring

__all__ = ["CONTENT_KEYS_ENV", "SessionsSettings", "sessions_settings"]

CONTENT_KEYS_ENV = "TILA_SESSIONS_CONTENT_KEYS"


class SessionsSettings(ServiceSettings, frozen=True, kw_only=True):
    content_keys: str = ""
    """The content keyring inline: ``kid:base64key,kid:base64key`` (32-byte keys, newest last).
    In production a mounted secret or a KMS; never logged."""
    content_keys_file: str = ""
    """Or a JSON file ``{"keys": [{"id": "...", "key": "<base64>"}, ...]}`` (newest last);
    ``tila run`` keeps one in ``.data/content-keys.json``."""
    content_retention_months: Annotated[int, msgspec.Meta(ge=1, le=240)] = 12
    """How long a closed process's content is kept unless its provider tenant set its own period."""
    retention_interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    """How often the worker looks for closed processes whose retention period has ended."""

    @property
    def content_keyring(self) -> ContentKeyring | None:
        """The keyring of the two settings above, or None when neither names a key (the content
        routes then answer 503, never with a made-up key)."""
        keys = parse_keyring(self.content_keys, self.content_keys_file)
        return ContentKeyring(keys) if keys else None


def sessions_settings(settings: ServiceSettings | None) -> SessionsSettings:
    """``settings`` as :class:`SessionsSettings`: the common fields as given, the service's own
    from the environment (``TILA_SESSIONS_*``) or their defaults."""
    return own_settings(SERVICE, settings, SessionsSettings)
