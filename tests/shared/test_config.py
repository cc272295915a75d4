"""Settings come from TILA_<SERVICE>_<FIELD>, then TILA_<FIELD>, then the defaults, typed and validated."""

from __future__ import annotations

import pytest

from services.organisations.settings import OrganisationsSettings
from shared.config import ServiceSettings, SettingsError, load_settings


def test_service_specific_variable_wins_over_the_shared_one() -> None:
    settings = load_settings(
        "orders",
        {
            "TILA_DATABASE_URL": "postgresql://shared/db",
            "TILA_ORDERS_DATABASE_URL": "postgresql://orders/db",
            "TILA_NATS_URL": "nats://shared:4222",
        },
    )
    assert settings.database_url == "postgresql://orders/db"
    assert settings.nats_url == "nats://shared:4222"
    assert settings.service == "orders"


def test_another_services_variables_are_ignored() -> None:
    settings = load_settings(
        "orders",
        {"TILA_ORDERS_DATABASE_URL": "postgresql://orders/db", "TILA_BILLING_DB_POOL_MAX": "99"},
    )
    assert settings.db_pool_max == 10


def test_numbers_are_converted_from_strings() -> None:
    settings = load_settings(
        "billing",
        {
            "TILA_BILLING_DATABASE_URL": "postgresql://billing/db",
            "TILA_BILLING_DB_POOL_MAX": "25",
            "TILA_DB_POOL_MIN": "3",
            "TILA_OUTBOX_POLL_INTERVAL": "0.25",
        },
    )
    assert settings.db_pool_max == 25
    assert isinstance(settings.db_pool_max, int)
    assert settings.db_pool_min == 3
    assert settings.outbox_poll_interval == 0.25


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TILA_DB_POOL_MAX", "ten"),
        ("TILA_SESSIONS_DB_POOL_MIN", "1.5"),
        ("TILA_OUTBOX_POLL_INTERVAL", ""),
    ],
)
def test_a_bad_number_raises_settings_error(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match="sessions"):
        load_settings("sessions", {"TILA_SESSIONS_DATABASE_URL": "postgresql://s/db", variable: value})


def test_a_missing_database_url_raises_settings_error() -> None:
    with pytest.raises(SettingsError, match="database_url"):
        load_settings("sessions", {"TILA_NATS_URL": "nats://n:4222"})


def test_defaults_fill_every_unset_field() -> None:
    settings = load_settings("integrations", {"TILA_DATABASE_URL": "postgresql://i/db"})
    assert settings == ServiceSettings(service="integrations", database_url="postgresql://i/db")
    assert settings.nats_url == "nats://127.0.0.1:4222"
    assert (settings.db_pool_min, settings.db_pool_max) == (1, 10)
    assert settings.owner_database_url == ""
    assert settings.log_level == "info"


def test_environ_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILA_ORDERS_DATABASE_URL", "postgresql://from-os-environ/db")
    assert load_settings("orders").database_url == "postgresql://from-os-environ/db"


def test_organisations_settings_pick_up_the_signing_keys_file() -> None:
    settings = load_settings(
        "organisations",
        {
            "TILA_ORGANISATIONS_DATABASE_URL": "postgresql://o/db",
            "TILA_ORGANISATIONS_SIGNING_KEYS_FILE": "/run/secrets/signing-keys.json",
        },
        cls=OrganisationsSettings,
    )
    assert isinstance(settings, OrganisationsSettings)
    assert settings.signing_keys_file == "/run/secrets/signing-keys.json"
    assert settings.database_url == "postgresql://o/db"


def test_organisations_settings_default_to_no_signing_keys_file() -> None:
    settings = load_settings(
        "organisations", {"TILA_ORGANISATIONS_DATABASE_URL": "postgresql://o/db"}, cls=OrganisationsSettings
    )
    assert settings.signing_keys_file == ""
