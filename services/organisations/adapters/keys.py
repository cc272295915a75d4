"""The keyring that signs Tila's own tokens: a file in the settings (a KMS in production).

Rotating adds a key that is published at once and starts signing a few minutes later, when
the previous one retires; a retired key stays published until every token it signed has
expired. So no verifier ever meets a key it could not know, and no live token dies early.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import OKPKey

from shared.auth.tokens import new_signing_key

__all__ = ["ACTIVATION_DELAY", "Keyring", "KeyringEntry", "KeyringFile", "ensure_key_file", "rotate_key_file"]


ACTIVATION_DELAY = dt.timedelta(minutes=5)
"""How long a new key is published before it signs: verifiers cache the JWKS and refetch it
at most every so often, so a key must be known before the first token it signs arrives."""


@dataclass(frozen=True)
class KeyringEntry:
    key: OKPKey
    created_at: dt.datetime
    activates_at: dt.datetime
    retired_at: dt.datetime | None = None

    def signs_at(self, now: dt.datetime) -> bool:
        return self.activates_at <= now and (self.retired_at is None or now < self.retired_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "jwk": self.key.as_dict(private=True),
            "createdAt": self.created_at.isoformat(),
            "activatesAt": self.activates_at.isoformat(),
            "retiredAt": self.retired_at.isoformat() if self.retired_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyringEntry:
        retired = data.get("retiredAt")
        created = dt.datetime.fromisoformat(data["createdAt"])
        return cls(
            key=OKPKey.import_key(data["jwk"]),
            created_at=created,
            activates_at=dt.datetime.fromisoformat(data.get("activatesAt") or data["createdAt"]),
            retired_at=dt.datetime.fromisoformat(retired) if retired else None,
        )


@dataclass(frozen=True)
class Keyring:
    entries: tuple[KeyringEntry, ...]

    @classmethod
    def load(cls, path: Path) -> Keyring:
        data = json.loads(path.read_text())
        return cls(tuple(KeyringEntry.from_json(entry) for entry in data["keys"]))

    def save(self, path: Path) -> None:
        # Write beside and rename, so a reader never sees half a keyring; the new file is the
        # owner's alone from its first byte.
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps({"keys": [entry.to_json() for entry in self.entries]}, indent=1))
        os.replace(temporary, path)

    def signing_key(self, now: dt.datetime | None = None) -> OKPKey:
        moment = now or dt.datetime.now(dt.UTC)
        active = [entry for entry in self.entries if entry.signs_at(moment)]
        if not active:
            raise LookupError("the keyring has no active signing key")
        return max(active, key=lambda entry: entry.activates_at).key

    def published(self, now: dt.datetime, token_lifetime: dt.timedelta) -> list[OKPKey]:
        """Keys verifiers must know: the next one, the active one, and retired ones whose tokens
        may still be alive."""
        grace = token_lifetime + dt.timedelta(minutes=5)  # clock skew and in-flight requests
        return [
            entry.key for entry in self.entries if entry.retired_at is None or now - entry.retired_at < grace
        ]

    def rotated(
        self,
        now: dt.datetime,
        token_lifetime: dt.timedelta,
        activation_delay: dt.timedelta = ACTIVATION_DELAY,
    ) -> Keyring:
        """A new key, published now and signing after ``activation_delay``, when the current ones
        retire; keys nobody can need any more are dropped."""
        switch = now + activation_delay
        keep = [
            KeyringEntry(entry.key, entry.created_at, entry.activates_at, entry.retired_at or switch)
            for entry in self.entries
            if entry.retired_at is None or now - entry.retired_at < token_lifetime * 2 + dt.timedelta(days=1)
        ]
        return Keyring((KeyringEntry(new_signing_key(), now, switch), *keep))


def ensure_key_file(path: Path) -> None:
    """Create a keyring with one Ed25519 key unless it exists (the embedded default)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    Keyring((KeyringEntry(new_signing_key(), now, now),)).save(path)


def rotate_key_file(
    path: Path, token_lifetime: dt.timedelta, activation_delay: dt.timedelta = ACTIVATION_DELAY
) -> str:
    """Rotate the keyring at ``path``; return the new key's kid."""
    rotated = Keyring.load(path).rotated(dt.datetime.now(dt.UTC), token_lifetime, activation_delay)
    rotated.save(path)
    kid = rotated.entries[0].key.kid
    assert kid is not None
    return kid


class KeyringFile:
    """The keyring at a path, re-read when the file changes (a rotation needs no restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keyring: Keyring | None = None

    def current(self) -> Keyring:
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._keyring is None or stamp != self._stamp:
            self._keyring = Keyring.load(self.path)
            self._stamp = stamp
        return self._keyring
