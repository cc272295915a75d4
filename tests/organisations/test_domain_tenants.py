"""The rules of a valid tenant and its Y-tunnus, without servers."""

from __future__ import annotations

import uuid

import pytest

from services.organisations.domain.tenants import (
    InvalidTenant,
    Tenant,
    TenantKind,
    new_tenant,
    normalise_business_id,
)
from tests.factories import business_id


@pytest.mark.parametrize(
    "spelling",
    ["2077474-0", "20774740", " 2077474-0 ", "2077474 0", "FI20774740", "fi2077474-0"],
)
def test_a_valid_business_id_is_normalised_to_seven_digits_dash_check_digit(spelling: str) -> None:
    assert normalise_business_id(spelling) == "2077474-0"


def test_a_leading_zero_is_kept() -> None:
    assert normalise_business_id("0737546-2") == "0737546-2"


def test_random_valid_business_ids_are_already_canonical() -> None:
    for _ in range(50):
        valid = business_id()
        assert normalise_business_id(valid) == valid


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2077474-1", "check digit"),
        ("2077474-9", "check digit"),
        ("207747-0", "length"),
        ("737546-2", "length"),
        ("20774740-0", "length"),
        ("ABCDEFG-H", "format"),
        ("20774740x", "format"),
        ("", "format"),
    ],
)
def test_an_invalid_business_id_is_refused_on_business_id(value: str, reason: str) -> None:
    with pytest.raises(InvalidTenant) as caught:
        normalise_business_id(value)
    assert caught.value.field == "businessId"
    assert caught.value.message.startswith("not a valid Y-tunnus")
    assert reason in caught.value.message


def test_a_new_tenant_is_active_at_version_1_with_a_stripped_name_and_canonical_business_id() -> None:
    tenant_id = uuid.uuid4()
    tenant = new_tenant(
        tenant_id, name="  Pirkanmaan hyvinvointialue\n", kind=TenantKind.BUYER, business_id="20774740"
    )
    assert tenant == Tenant(
        tenant_id=tenant_id,
        name="Pirkanmaan hyvinvointialue",
        kind=TenantKind.BUYER,
        business_id="2077474-0",
        active=True,
        version=1,
    )


@pytest.mark.parametrize("name", ["", " ", "\t\n "])
def test_a_blank_name_is_refused_on_name(name: str) -> None:
    with pytest.raises(InvalidTenant) as caught:
        new_tenant(uuid.uuid4(), name=name, kind=TenantKind.PROVIDER, business_id=business_id())
    assert caught.value.field == "name"


def test_an_invalid_business_id_refuses_the_tenant() -> None:
    with pytest.raises(InvalidTenant) as caught:
        new_tenant(uuid.uuid4(), name="Tmi Valvoja", kind=TenantKind.PROVIDER, business_id="2077474-1")
    assert caught.value.field == "businessId"


def test_tenant_kinds_are_buyer_and_provider() -> None:
    assert {kind.value for kind in TenantKind} == {"buyer", "provider"}
