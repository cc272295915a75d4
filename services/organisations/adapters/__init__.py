"""Adapters to the outside world: what the organisations service talks to beyond its database and NATS.

One module per sub-domain (keys, oidc);
the public names are re-exported here.
"""

from __future__ import annotations

from services.organisations.adapters.keys import (
    ACTIVATION_DELAY,
    Keyring,
    KeyringEntry,
    KeyringFile,
    ensure_key_file,
    rotate_key_file,
)
from services.organisations.adapters.oidc import (
    DISCOVERY_LIMIT,
    TOKEN_ANSWER_LIMIT,
    OidcClient,
    ProviderMetadata,
    ProviderUnavailable,
    resolve_secret,
)

__all__ = [
    "ACTIVATION_DELAY",
    "DISCOVERY_LIMIT",
    "TOKEN_ANSWER_LIMIT",
    "Keyring",
    "KeyringEntry",
    "KeyringFile",
    "OidcClient",
    "ProviderMetadata",
    "ProviderUnavailable",
    "ensure_key_file",
    "resolve_secret",
    "rotate_key_file",
]
