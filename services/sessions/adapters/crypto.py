"""Envelope encryption of supervision content: the only module that touches AES-GCM.

* Each process has one random 256-bit data key (DEK). Content fields are sealed with it under
  AES-256-GCM, a fresh 96-bit nonce each time, and associated data naming the owner tenant,
  the process, the table, the row and the field: a ciphertext copied anywhere else fails.
* The DEK is stored only wrapped (AES-256-GCM) by the owner tenant's key-encryption key, which
  is derived (HKDF-SHA256) from the newest key of the keyring; the wrapped record names the
  keyring key, so after a rotation old wraps still open and :meth:`ContentKeyring.rewrap`
  moves them to the newest key.
* Destroying the wrapped DEK (crypto-shredding) makes every copy of the process's content
  unreadable.

Ciphertext layout: ``b"\\x01" | nonce(12) | ciphertext || tag(16)``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "ContentKeyring",
    "DataKey",
    "DecryptionFailed",
    "WrappedKey",
    "generate_key",
    "open_field",
    "seal_field",
]

_VERSION = b"\x01"
_BOUND_VERSION = b"\x02"
"""A content field sealed with its item's kind and owner in the associated data (``seal_field``)."""
_NONCE_BYTES = 12


class DecryptionFailed(Exception):
    """A ciphertext or wrapped key did not authenticate: tampered, moved, or its key is gone."""


def generate_key() -> bytes:
    """A random 256-bit key (for a keyring entry or a data key)."""
    return AESGCM.generate_key(bit_length=256)


@dataclass(frozen=True)
class WrappedKey:
    key_id: str
    """The keyring key whose derived tenant key wrapped it."""
    wrapped: bytes


@dataclass(frozen=True)
class DataKey:
    """A process's plaintext data key, bound to its owner tenant and process; never stored."""

    tenant_id: uuid.UUID
    process_id: uuid.UUID
    key: bytes

    def __repr__(self) -> str:  # never print the key
        return f"DataKey(tenant_id={self.tenant_id}, process_id={self.process_id})"


def _seal(key: bytes, plaintext: bytes, aad: bytes, version: bytes = _VERSION) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return version + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, sealed: bytes, aad: bytes, version: bytes = _VERSION) -> bytes:
    if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != version:
        raise DecryptionFailed("not a sealed value of this format")
    nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise DecryptionFailed("the value does not authenticate here") from None


class ContentKeyring:
    """The keyring of key-encryption keys: ``(key id, 32-byte key)`` pairs, newest last."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("a content keyring needs at least one key")
        for kid, key in keys:
            if len(key) != 32:
                raise ValueError(f"content key {kid!r} must be 32 bytes")
        self._keys = dict(keys)
        if len(self._keys) != len(keys):
            raise ValueError("content key ids must be unique")
        self.primary_id = keys[-1][0]

    def __repr__(self) -> str:  # never print keys
        return f"ContentKeyring(ids={list(self._keys)})"

    @classmethod
    def generate(cls, kid: str = "k1") -> ContentKeyring:
        return cls([(kid, generate_key())])

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def with_new_key(self, kid: str, key: bytes | None = None) -> ContentKeyring:
        """This keyring plus a newer key that wraps from now on (the old ones still unwrap)."""
        return ContentKeyring([*self._keys.items(), (kid, key or generate_key())])

    def without(self, kid: str) -> ContentKeyring:
        """This keyring with a retired key removed."""
        return ContentKeyring([(k, v) for k, v in self._keys.items() if k != kid])

    def _tenant_key(self, kid: str, tenant_id: uuid.UUID) -> bytes:
        try:
            master = self._keys[kid]
        except KeyError:
            raise DecryptionFailed("the data key was wrapped by a key this keyring no longer has") from None
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"tila-sessions-kek|" + tenant_id.bytes
        ).derive(master)

    @staticmethod
    def _wrap_aad(kid: str, tenant_id: uuid.UUID, process_id: uuid.UUID) -> bytes:
        return f"tila-dek|v1|{kid}|{tenant_id}|{process_id}".encode()

    def new_data_key(self, tenant_id: uuid.UUID, process_id: uuid.UUID) -> tuple[DataKey, WrappedKey]:
        """A fresh data key for a process and its wrapped copy under the newest keyring key."""
        data_key = DataKey(tenant_id, process_id, generate_key())
        return data_key, self.wrap(data_key)

    def wrap(self, data_key: DataKey) -> WrappedKey:
        kid = self.primary_id
        aad = self._wrap_aad(kid, data_key.tenant_id, data_key.process_id)
        return WrappedKey(kid, _seal(self._tenant_key(kid, data_key.tenant_id), data_key.key, aad))

    def unwrap(self, wrapped: WrappedKey, tenant_id: uuid.UUID, process_id: uuid.UUID) -> DataKey:
        """The data key of ``process_id``; fails if the record belongs to another tenant or process."""
        aad = self._wrap_aad(wrapped.key_id, tenant_id, process_id)
        key = _open(self._tenant_key(wrapped.key_id, tenant_id), wrapped.wrapped, aad)
        return DataKey(tenant_id, process_id, key)

    def rewrap(self, wrapped: WrappedKey, tenant_id: uuid.UUID, process_id: uuid.UUID) -> WrappedKey:
        """The same data key wrapped by the newest keyring key (key rotation; content untouched)."""
        return self.wrap(self.unwrap(wrapped, tenant_id, process_id))


def _field_aad(
    data_key: DataKey, table: str, row_id: uuid.UUID, field: str, bound: tuple[str, ...] | None
) -> bytes:
    if bound is None:  # sealed before kind and owner were bound in (format 1)
        return f"tila-content|v1|{data_key.tenant_id}|{data_key.process_id}|{table}|{row_id}|{field}".encode()
    place = f"{data_key.tenant_id}|{data_key.process_id}|{table}|{row_id}|{field}"
    return ("tila-content|v2|" + place + "|" + "|".join(bound)).encode()


def _bound(kind: str, owner_id: uuid.UUID) -> tuple[str, ...]:
    return (kind, str(owner_id))


def seal_field(
    data_key: DataKey,
    table: str,
    row_id: uuid.UUID,
    field: str,
    plaintext: str,
    *,
    kind: str,
    owner_id: uuid.UUID,
) -> bytes:
    """Encrypt one content field of one row, bound to its tenant, process, table, row and field, and
    to the item's kind and owner: a database-level change of either makes it fail to open."""
    aad = _field_aad(data_key, table, row_id, field, _bound(kind, owner_id))
    return _seal(data_key.key, plaintext.encode(), aad, _BOUND_VERSION)


def open_field(
    data_key: DataKey,
    table: str,
    row_id: uuid.UUID,
    field: str,
    sealed: bytes,
    *,
    kind: str,
    owner_id: uuid.UUID,
) -> str:
    """Decrypt what :func:`seal_field` sealed for exactly this row, field, kind and owner, or raise.

    Values sealed before kind and owner were bound (format 1) still open by their place alone; a
    format-2 value relabelled as format 1 does not (its associated data differs).
    """
    if sealed[:1] == _BOUND_VERSION:
        aad = _field_aad(data_key, table, row_id, field, _bound(kind, owner_id))
        return _open(data_key.key, sealed, aad, _BOUND_VERSION).decode()
    return _open(data_key.key, sealed, _field_aad(data_key, table, row_id, field, None)).decode()
