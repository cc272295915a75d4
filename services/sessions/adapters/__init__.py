"""Adapters to the outside world: what the sessions service talks to beyond its database and NATS.

One module per sub-domain (crypto);
the public names are re-exported here.
"""

from __future__ import annotations

from services.sessions.adapters.crypto import (
    ContentKeyring,
    DataKey,
    DecryptionFailed,
    WrappedKey,
    generate_key,
    open_field,
    seal_field,
)

__all__ = [
    "ContentKeyring",
    "DataKey",
    "DecryptionFailed",
    "WrappedKey",
    "generate_key",
    "open_field",
    "seal_field",
]
