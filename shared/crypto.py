"""A keyring of 256-bit keys and AES-256-GCM sealing of small secrets under it.

The keyring is ``(key id, 32-byte key)`` pairs, oldest first: the newest seals, every one still
opens what it sealed (the caller stores the key id beside the sealed value). The associated data
names where the value belongs, so a sealed value copied anywhere else fails to open.

Sealed layout: ``b"\\x01" | nonce(12) | ciphertext || tag(16)``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.config import SettingsError

__all__ = ["DecryptionFailed", "Keyring", "ensure_keyring_file", "parse_keyring"]

_VERSION = b"\x01"
_NONCE_BYTES = 12


class DecryptionFailed(Exception):
    """A sealed value did not authenticate: tampered, moved, or its key is gone."""


class Keyring:
    """Keys by id, newest last; the newest seals."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        for kid, key in keys:
            if len(key) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes")
        self._keys = dict(keys)
        if len(self._keys) != len(keys):
            raise ValueError("key ids must be unique")
        self.primary_id = keys[-1][0]

    def __repr__(self) -> str:  # never print keys
        return f"Keyring(ids={list(self._keys)})"

    @classmethod
    def generate(cls, kid: str = "k1") -> Keyring:
        return cls([(kid, AESGCM.generate_key(bit_length=256))])

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def with_new_key(self, kid: str, key: bytes | None = None) -> Keyring:
        """This keyring plus a newer key that seals from now on (the old ones still open)."""
        return Keyring([*self._keys.items(), (kid, key or AESGCM.generate_key(bit_length=256))])

    def seal(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
        """``(key id, sealed)`` under the newest key."""
        nonce = os.urandom(_NONCE_BYTES)
        return self.primary_id, _VERSION + nonce + AESGCM(self._keys[self.primary_id]).encrypt(
            nonce, plaintext, aad
        )

    def open(self, key_id: str, sealed: bytes, aad: bytes) -> bytes:
        """What :meth:`seal` sealed under ``key_id`` with exactly this ``aad``, or raise."""
        key = self._keys.get(key_id)
        if key is None:
            raise DecryptionFailed("sealed under a key this keyring no longer has")
        if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != _VERSION:
            raise DecryptionFailed("not a sealed value of this format")
        try:
            return AESGCM(key).decrypt(sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :], aad)
        except InvalidTag:
            raise DecryptionFailed("the value does not authenticate here") from None


def _decode_key(kid: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"key {kid!r} is not base64") from None
    if len(key) != 32:
        raise SettingsError(f"key {kid!r} must be 32 bytes, not {len(key)}")
    return key


def parse_keyring(inline: str = "", file: str = "") -> list[tuple[str, bytes]]:
    """A keyring as ``(key id, key)`` pairs, oldest first, from a JSON file
    ``{"keys": [{"id": "...", "key": "<base64>"}, ...]}`` and/or inline ``kid:base64,kid:base64``."""
    pairs: list[tuple[str, str]] = []
    if file:
        try:
            document = json.loads(Path(file).read_text())
            pairs += [(str(entry["id"]), str(entry["key"])) for entry in document["keys"]]
        except (OSError, ValueError, KeyError, TypeError):
            raise SettingsError(f"{file} is not a keyring file") from None
    for part in filter(None, (p.strip() for p in inline.split(","))):
        kid, sep, encoded = part.partition(":")
        if not sep or not kid:
            raise SettingsError("keys are written kid:base64key, comma-separated")
        pairs.append((kid, encoded))
    keys = [(kid, _decode_key(kid, encoded)) for kid, encoded in pairs]
    if len({kid for kid, _ in keys}) != len(keys):
        raise SettingsError("key ids must be unique")
    return keys


def ensure_keyring_file(path: Path) -> Path:
    """Create a keyring file with one random key (owner-only) unless it exists."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        document = {"keys": [{"id": f"k{secrets.token_hex(4)}", "key": key}]}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(document, out)
    return path
