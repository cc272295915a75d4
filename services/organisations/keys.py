"""The signing keys of Tila's own tokens, read from the key file in the settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, OKPKey

from shared.auth.tokens import new_signing_key

__all__ = ["ensure_key_file", "load_key_set", "public_jwks"]


def ensure_key_file(path: Path) -> None:
    """Create a key file with one Ed25519 key unless it exists (the embedded default)."""
    if path.exists():
        return
    key: OKPKey = new_signing_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"keys": [key.as_dict(private=True)]}))
    path.chmod(0o600)


def load_key_set(path: Path) -> KeySet:
    return KeySet.import_key_set(json.loads(path.read_text()))


def public_jwks(path: Path) -> dict[str, Any]:
    """The public half of every key in the file: what verifiers fetch."""
    if not path.exists():
        return {"keys": []}
    return {"keys": [key.as_dict(private=False) for key in load_key_set(path).keys]}
