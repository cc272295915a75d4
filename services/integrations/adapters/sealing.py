"""Webhook signing secrets sealed at rest under the integrations keyring.

The associated data names the tenant, the endpoint and the column: a sealed secret copied to
another endpoint, tenant or column fails to open.
"""

from __future__ import annotations

import uuid
from typing import Literal

from shared.crypto import DecryptionFailed, Keyring

__all__ = ["Column", "DecryptionFailed", "open_secret", "seal_secret"]

Column = Literal["secret", "previous_secret"]


def _aad(tenant_id: uuid.UUID, endpoint_id: uuid.UUID, column: Column) -> bytes:
    return f"tila-webhook-secret|v1|{tenant_id}|{endpoint_id}|webhook_endpoints.{column}".encode()


def seal_secret(
    keyring: Keyring, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, column: Column, secret: str
) -> tuple[str, bytes]:
    """``(key id, sealed)`` of ``secret`` for this endpoint's ``column``, under the newest key."""
    return keyring.seal(secret.encode(), _aad(tenant_id, endpoint_id, column))


def open_secret(
    keyring: Keyring, key_id: str, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, column: Column, sealed: bytes
) -> str:
    """The secret sealed for exactly this endpoint's ``column``, or :class:`DecryptionFailed`."""
    return keyring.open(key_id, sealed, _aad(tenant_id, endpoint_id, column)).decode()
