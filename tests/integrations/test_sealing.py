"""Sealing of webhook secrets without servers: bound to tenant, endpoint and column; old keys open."""

from __future__ import annotations

import base64
import uuid

import pytest

from services.integrations.adapters.sealing import DecryptionFailed, open_secret, seal_secret
from services.integrations.settings import IntegrationsSettings
from shared.config import SettingsError
from shared.crypto import Keyring, parse_keyring

SECRET = "whsec_" + base64.b64encode(b"s" * 24).decode()


def test_a_sealed_secret_opens_only_for_its_tenant_endpoint_and_column() -> None:
    keyring = Keyring.generate("k1")
    tenant, endpoint = uuid.uuid4(), uuid.uuid4()
    kid, sealed = seal_secret(keyring, tenant, endpoint, "secret", SECRET)
    assert kid == "k1"
    assert SECRET.encode() not in sealed
    assert open_secret(keyring, kid, tenant, endpoint, "secret", sealed) == SECRET
    for other in (
        (uuid.uuid4(), endpoint, "secret"),
        (tenant, uuid.uuid4(), "secret"),
        (tenant, endpoint, "previous_secret"),
    ):
        with pytest.raises(DecryptionFailed):
            open_secret(keyring, kid, other[0], other[1], other[2], sealed)
    with pytest.raises(DecryptionFailed):
        open_secret(keyring, kid, tenant, endpoint, "secret", sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(DecryptionFailed):
        open_secret(Keyring.generate("k1"), kid, tenant, endpoint, "secret", sealed)  # same id, other key


def test_after_a_newer_key_is_added_it_seals_and_the_old_one_still_opens_until_removed() -> None:
    old = Keyring.generate("k1")
    tenant, endpoint = uuid.uuid4(), uuid.uuid4()
    kid, sealed = seal_secret(old, tenant, endpoint, "secret", SECRET)
    newer = old.with_new_key("k2")
    assert seal_secret(newer, tenant, endpoint, "secret", SECRET)[0] == "k2"
    assert open_secret(newer, kid, tenant, endpoint, "secret", sealed) == SECRET
    with pytest.raises(DecryptionFailed):
        open_secret(Keyring([("k2", bytes(32))]), kid, tenant, endpoint, "secret", sealed)


def test_the_keyring_setting_is_parsed_newest_last_and_bad_keys_are_refused() -> None:
    one, two = base64.b64encode(bytes(32)).decode(), base64.b64encode(bytes(range(32))).decode()
    settings = IntegrationsSettings(
        service="integrations", database_url="-", webhook_secret_keys=f"a:{one}, b:{two}"
    )
    keyring = settings.webhook_secret_keyring
    assert keyring is not None
    assert (keyring.key_ids, keyring.primary_id) == (["a", "b"], "b")
    assert "AAAA" not in repr(keyring)
    assert IntegrationsSettings(service="integrations", database_url="-").webhook_secret_keyring is None
    for bad in ("a", f"a:{base64.b64encode(bytes(16)).decode()}", "a:not base64!", f"a:{one},a:{two}"):
        with pytest.raises(SettingsError):
            parse_keyring(bad)
