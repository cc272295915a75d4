"""Envelope encryption of content: data keys wrapped per tenant, ciphertexts bound to their place."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.sessions.adapters import crypto
from services.sessions.adapters.crypto import (
    ContentKeyring,
    DataKey,
    DecryptionFailed,
    WrappedKey,
    generate_key,
    open_field,
    seal_field,
)
from shared.config import ServiceSettings, SettingsError
from shared.crypto import ensure_keyring_file as ensure_content_key_file
from shared.crypto import parse_keyring as parse_content_keys

TENANT, OTHER_TENANT = uuid.uuid4(), uuid.uuid4()
PROCESS, OTHER_PROCESS = uuid.uuid4(), uuid.uuid4()
ROW, OTHER_ROW = uuid.uuid4(), uuid.uuid4()
TEXT = "Tiimin vuorovaikutus on kuormittavaa"
OWNER = uuid.uuid4()
ITEM: dict[str, Any] = {"kind": "private_note", "owner_id": OWNER}


def _data_key(keyring: ContentKeyring, tenant: uuid.UUID = TENANT, process: uuid.UUID = PROCESS) -> DataKey:
    return keyring.new_data_key(tenant, process)[0]


def test_a_sealed_field_opens_only_in_its_own_row_field_process_and_tenant() -> None:
    keyring = ContentKeyring.generate()
    key = _data_key(keyring)
    sealed = seal_field(key, "content_items", ROW, "body", TEXT, **ITEM)
    assert TEXT.encode() not in sealed
    assert open_field(key, "content_items", ROW, "body", sealed, **ITEM) == TEXT
    with pytest.raises(DecryptionFailed):
        open_field(key, "content_items", OTHER_ROW, "body", sealed, **ITEM)
    with pytest.raises(DecryptionFailed):
        open_field(key, "content_items", ROW, "title", sealed, **ITEM)
    with pytest.raises(DecryptionFailed):
        open_field(key, "other_table", ROW, "body", sealed, **ITEM)
    # The same key bytes named for another process or tenant: the associated data differs.
    with pytest.raises(DecryptionFailed):
        open_field(DataKey(TENANT, OTHER_PROCESS, key.key), "content_items", ROW, "body", sealed, **ITEM)
    with pytest.raises(DecryptionFailed):
        open_field(DataKey(OTHER_TENANT, PROCESS, key.key), "content_items", ROW, "body", sealed, **ITEM)


def test_a_sealed_field_opens_only_as_the_kind_and_owner_it_was_written_as() -> None:
    key = _data_key(ContentKeyring.generate())
    sealed = seal_field(key, "content_items", ROW, "body", TEXT, **ITEM)
    with pytest.raises(DecryptionFailed):  # a private note relabelled as a shared one in the database
        open_field(key, "content_items", ROW, "body", sealed, kind="shared_note", owner_id=OWNER)
    with pytest.raises(DecryptionFailed):  # someone else's reflection claimed as one's own
        open_field(key, "content_items", ROW, "body", sealed, kind="private_note", owner_id=uuid.uuid4())
    # relabelled as the older format (bound to its place only): its associated data differs
    with pytest.raises(DecryptionFailed):
        open_field(key, "content_items", ROW, "body", b"\x01" + sealed[1:], **ITEM)


def test_a_value_sealed_before_kind_and_owner_were_bound_still_opens() -> None:
    key = _data_key(ContentKeyring.generate())
    legacy = crypto._seal(
        key.key, TEXT.encode(), f"tila-content|v1|{TENANT}|{PROCESS}|content_items|{ROW}|body".encode()
    )
    assert open_field(key, "content_items", ROW, "body", legacy, **ITEM) == TEXT


def test_a_tampered_ciphertext_fails_to_decrypt() -> None:
    key = _data_key(ContentKeyring.generate())
    sealed = bytearray(seal_field(key, "content_items", ROW, "body", TEXT, **ITEM))
    for position in (1, 13, len(sealed) - 1):  # nonce, ciphertext, tag
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionFailed):
            open_field(key, "content_items", ROW, "body", bytes(tampered), **ITEM)
    with pytest.raises(DecryptionFailed):
        open_field(key, "content_items", ROW, "body", bytes(sealed[:20]), **ITEM)


def test_the_same_text_seals_differently_each_time() -> None:
    key = _data_key(ContentKeyring.generate())
    assert seal_field(key, "t", ROW, "f", TEXT, **ITEM) != seal_field(key, "t", ROW, "f", TEXT, **ITEM)


def test_another_process_key_cannot_open_a_field() -> None:
    keyring = ContentKeyring.generate()
    sealed = seal_field(_data_key(keyring), "content_items", ROW, "body", TEXT, **ITEM)
    with pytest.raises(DecryptionFailed):
        open_field(_data_key(keyring), "content_items", ROW, "body", sealed, **ITEM)


def test_a_wrapped_data_key_unwraps_only_for_its_tenant_and_process() -> None:
    keyring = ContentKeyring.generate()
    key, wrapped = keyring.new_data_key(TENANT, PROCESS)
    assert key.key not in wrapped.wrapped
    assert keyring.unwrap(wrapped, TENANT, PROCESS).key == key.key
    with pytest.raises(DecryptionFailed):
        keyring.unwrap(wrapped, OTHER_TENANT, PROCESS)
    with pytest.raises(DecryptionFailed):
        keyring.unwrap(wrapped, TENANT, OTHER_PROCESS)
    with pytest.raises(DecryptionFailed):
        ContentKeyring.generate().unwrap(wrapped, TENANT, PROCESS)  # a keyring without that key


def test_after_rotation_new_wraps_use_the_newest_key_and_old_wraps_still_open() -> None:
    old = ContentKeyring.generate("k1")
    key, wrapped = old.new_data_key(TENANT, PROCESS)
    assert wrapped.key_id == "k1"
    rotated = old.with_new_key("k2")
    assert rotated.primary_id == "k2"
    assert rotated.new_data_key(TENANT, OTHER_PROCESS)[1].key_id == "k2"
    assert rotated.unwrap(wrapped, TENANT, PROCESS).key == key.key
    rewrapped = rotated.rewrap(wrapped, TENANT, PROCESS)
    assert rewrapped.key_id == "k2"
    retired = rotated.without("k1")
    assert retired.unwrap(rewrapped, TENANT, PROCESS).key == key.key
    with pytest.raises(DecryptionFailed):
        retired.unwrap(wrapped, TENANT, PROCESS)


def test_a_wrapped_key_relabelled_with_another_key_id_fails() -> None:
    keyring = ContentKeyring([("k1", generate_key()), ("k2", generate_key())])
    _, wrapped = keyring.new_data_key(TENANT, PROCESS)
    with pytest.raises(DecryptionFailed):
        keyring.unwrap(WrappedKey("k1", wrapped.wrapped), TENANT, PROCESS)


def test_keys_never_appear_in_reprs() -> None:
    keyring = ContentKeyring.generate()
    key = _data_key(keyring)
    assert key.key.hex() not in repr(key)
    assert str(key.key) not in repr(key)
    assert repr(keyring) == "ContentKeyring(ids=['k1'])"


def test_keyring_settings_parse_inline_and_file_keys_newest_last(tmp_path: Path) -> None:
    k1, k2 = generate_key(), generate_key()
    file = tmp_path / "keys.json"
    file.write_text(json.dumps({"keys": [{"id": "a", "key": base64.b64encode(k1).decode()}]}))
    keys = parse_content_keys(f"b:{base64.b64encode(k2).decode()}", str(file))
    assert keys == [("a", k1), ("b", k2)]
    assert ContentKeyring(keys).primary_id == "b"


@pytest.mark.parametrize(
    "inline",
    [
        "nokey",
        "a:not-base64!",
        f"a:{base64.b64encode(b'short').decode()}",
        "a:" + "A" * 44 + ",a:" + "A" * 44,
    ],
)
def test_bad_keyring_settings_are_refused(inline: str) -> None:
    with pytest.raises(SettingsError):
        parse_content_keys(inline)


def test_the_embedded_default_keeps_one_generated_key_owner_only(tmp_path: Path) -> None:
    path = ensure_content_key_file(tmp_path / "content-keys.json")
    first = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_content_key_file(path).read_text() == first
    [(kid, key)] = parse_content_keys(file=str(path))
    assert len(key) == 32
    assert kid


def test_the_app_reads_its_keyring_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.sessions.api.content import CONTENT_KEYRING_STATE_KEY
    from services.sessions.app import create_app

    settings = ServiceSettings(service="sessions", database_url="postgresql://unused/sessions")
    path = ensure_content_key_file(tmp_path / "content-keys.json")
    newer = base64.b64encode(generate_key()).decode()
    monkeypatch.setenv("TILA_SESSIONS_CONTENT_KEYS_FILE", str(path))
    monkeypatch.setenv("TILA_SESSIONS_CONTENT_KEYS", f"k-new:{newer}")
    keyring = create_app(settings).state[CONTENT_KEYRING_STATE_KEY]
    assert keyring is not None
    assert keyring.key_ids[-1] == "k-new"
    assert keyring.primary_id == "k-new"
    assert len(keyring.key_ids) == 2
    monkeypatch.delenv("TILA_SESSIONS_CONTENT_KEYS")
    monkeypatch.delenv("TILA_SESSIONS_CONTENT_KEYS_FILE")
    # The API then answers 503, never with a made-up key.
    assert create_app(settings).state[CONTENT_KEYRING_STATE_KEY] is None
