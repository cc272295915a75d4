"""Settings of the sessions service beyond the common ones: the content keyring and retention."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from pathlib import Path
from typing import Annotated

import msgspec

from shared.config import ServiceSettings, SettingsError

__all__ = [
    "CONTENT_KEYS_ENV",
    "SessionsSettings",
    "ensure_content_key_file",
    "parse_content_keys",
]

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


def _decode_key(kid: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"content key {kid!r} is not base64") from None
    if len(key) != 32:
        raise SettingsError(f"content key {kid!r} must be 32 bytes, not {len(key)}")
    return key


def parse_content_keys(inline: str = "", file: str = "") -> list[tuple[str, bytes]]:
    """The keyring as ``(key id, key)`` pairs, oldest first; the last one wraps new data keys."""
    pairs: list[tuple[str, str]] = []
    if file:
        try:
            document = json.loads(Path(file).read_text())
            pairs += [(str(entry["id"]), str(entry["key"])) for entry in document["keys"]]
        except (OSError, ValueError, KeyError, TypeError):
            raise SettingsError(f"{file} is not a content keyring file") from None
    for part in filter(None, (p.strip() for p in inline.split(","))):
        kid, sep, encoded = part.partition(":")
        if not sep or not kid:
            raise SettingsError("content keys are written kid:base64key, comma-separated")
        pairs.append((kid, encoded))
    keys = [(kid, _decode_key(kid, encoded)) for kid, encoded in pairs]
    if len({kid for kid, _ in keys}) != len(keys):
        raise SettingsError("content key ids must be unique")
    return keys


def ensure_content_key_file(path: Path) -> Path:
    """Create a keyring file with one random key (owner-only) unless it exists: the embedded default."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        document = {"keys": [{"id": f"k{secrets.token_hex(4)}", "key": key}]}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(document, out)
    return path
