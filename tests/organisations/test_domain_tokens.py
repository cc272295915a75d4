"""The rules of Tila's tokens, without servers."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.organisations.domain.tokens import (
    Grant,
    OAuthError,
    RefreshState,
    RefreshVerdict,
    access_claims,
    client_id_of,
    granted_scopes,
    judge_refresh,
    new_client_secret,
    new_refresh_token,
    parse_client_id,
    parse_refresh_token,
    secret_matches,
    validate_machine_scopes,
)

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def _state(**changes: object) -> RefreshState:
    values: dict[str, object] = {
        "family_id": uuid.uuid4(),
        "expires_at": NOW + dt.timedelta(days=1),
        "used_at": None,
        "revoked_at": None,
    }
    return RefreshState(**(values | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "verdict"),
    [
        (None, RefreshVerdict.UNKNOWN),
        (_state(), RefreshVerdict.VALID),
        (_state(used_at=NOW), RefreshVerdict.REUSED),
        (_state(revoked_at=NOW), RefreshVerdict.REVOKED),
        (_state(used_at=NOW, revoked_at=NOW), RefreshVerdict.REVOKED),
        (_state(expires_at=NOW), RefreshVerdict.EXPIRED),
    ],
)
def test_a_refresh_token_is_judged_by_its_state(state: RefreshState | None, verdict: RefreshVerdict) -> None:
    assert judge_refresh(state, NOW) is verdict


def test_an_access_token_says_who_for_how_long_and_nothing_from_the_request() -> None:
    tenant = uuid.uuid4()
    grant = Grant(tenant_id=tenant, subject="p1", roles=("approver",), scopes=("events:read",))
    claims = access_claims(grant, issuer="iss", audience="tila", now=NOW, lifetime=dt.timedelta(minutes=10))
    assert claims["tid"] == str(tenant)
    assert claims["sub"] == "p1"
    assert claims["roles"] == ["approver"]
    assert claims["scope"] == "events:read"
    assert claims["exp"] - claims["iat"] == 600
    assert "client_id" not in claims
    other = access_claims(grant, issuer="iss", audience="tila", now=NOW, lifetime=dt.timedelta(minutes=10))
    assert other["jti"] != claims["jti"]


def test_refresh_tokens_carry_their_tenant_and_are_stored_as_hashes() -> None:
    tenant = uuid.uuid4()
    token, token_hash = new_refresh_token(tenant)
    assert parse_refresh_token(token) == (tenant, token_hash)
    assert token.encode() not in token_hash
    assert len(token_hash) == 32
    assert new_refresh_token(tenant)[0] != token


@pytest.mark.parametrize(
    "token", ["", "nonsense", f"{uuid.uuid4()}.short", "not-a-uuid.abcdefghijklmnopqrstuvwxyz0123456789"]
)
def test_malformed_refresh_tokens_are_an_invalid_grant(token: str) -> None:
    with pytest.raises(OAuthError) as caught:
        parse_refresh_token(token)
    assert caught.value.error == "invalid_grant"


def test_client_secrets_match_only_themselves() -> None:
    secret, stored = new_client_secret()
    assert secret_matches(secret, stored)
    assert not secret_matches(secret + "x", stored)
    assert not secret_matches(new_client_secret()[0], stored)


def test_client_ids_round_trip_and_malformed_ones_fail_authentication() -> None:
    tenant, client = uuid.uuid4(), uuid.uuid4()
    assert parse_client_id(client_id_of(tenant, client)) == (tenant, client)
    with pytest.raises(OAuthError) as caught:
        parse_client_id("someone")
    assert (caught.value.error, caught.value.status) == ("invalid_client", 401)


def test_a_client_gets_what_it_registered_or_a_subset_never_more() -> None:
    registered = ["events:read", "webhooks:manage"]
    assert granted_scopes(None, registered) == ("events:read", "webhooks:manage")
    assert granted_scopes("events:read", registered) == ("events:read",)
    with pytest.raises(OAuthError) as caught:
        granted_scopes("events:read orders:write", registered)
    assert caught.value.error == "invalid_scope"


@pytest.mark.parametrize("scopes", [[], ["orders:write"], ["events:read", "admin"]])
def test_machine_clients_can_only_be_registered_for_known_scopes(scopes: list[str]) -> None:
    with pytest.raises(ValueError, match="subset"):
        validate_machine_scopes(scopes)
    assert validate_machine_scopes(["webhooks:manage", "events:read", "events:read"]) == (
        "events:read",
        "webhooks:manage",
    )
