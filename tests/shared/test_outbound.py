"""The outbound address policy (a table, no servers) and the capped, deadlined reads of third
parties' answers against real hostile servers on loopback."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest

from shared.addresses import Target, TargetNotAllowed, check_url, embedded_ipv4, forbidden_address
from shared.auth.errors import JwksUnavailable
from shared.auth.jwks import JwksClient
from shared.http.outbound import (
    AnswerTooLarge,
    DeadlineExceeded,
    OutboundClient,
    OutboundError,
    TargetRefused,
    fetch_capped,
    resolve_allowed,
)
from tests.hostile import HostileServer, rss_bytes

MB = 1024 * 1024
RSS_BOUND = 50 * MB
"""What a refused answer may cost in memory at most, while the server offers hundreds of MB."""

# --- the address table ---


@pytest.mark.parametrize(
    "address",
    [
        # IPv4 special-purpose ranges
        "0.0.0.0", "10.0.0.5", "100.64.1.1", "127.0.0.1", "169.254.169.254", "172.16.0.1",  # noqa: S104
        "192.0.0.8", "192.0.0.9", "192.0.0.170", "192.0.2.1", "192.31.196.1", "192.52.193.1",
        "192.88.99.1", "192.168.1.1", "192.175.48.1", "198.18.0.1", "198.51.100.1", "203.0.113.1",
        "224.0.0.1", "240.0.0.1", "255.255.255.255",
        # IPv6 special-purpose ranges
        "::", "::1", "fe80::1", "fc00::1", "fd00::1", "fec0::1", "ff02::1", "100::1", "2001:db8::1",
        "2001:2::1", "2001:10::1", "3fff::1", "5f00::1",
        # IPv4 carried in IPv6: mapped, compatible, NAT64 (well-known and local-use), 6to4, Teredo
        "::ffff:169.254.169.254", "::ffff:10.0.0.5", "::a9fe:a9fe", "::10.0.0.5",
        "64:ff9b::a9fe:a9fe", "64:ff9b::10.0.0.5", "64:ff9b::7f00:1", "64:ff9b:1::a9fe:a9fe",
        "2002:a9fe:a9fe::", "2002:a00:5::1", "2002:808:808::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:a00:5::1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    assert forbidden_address(ipaddress.ip_address(address), allow_loopback=False)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "193.166.3.2", "2001:4860:4860::8888", "2606:4700:4700::1111",
     "2a00:1450:4010:c0e::64", "64:ff9b::808:808"],
)  # fmt: skip
def test_public_addresses_pass(address: str) -> None:
    assert not forbidden_address(ipaddress.ip_address(address), allow_loopback=False)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
def test_development_mode_allows_loopback_and_nothing_more(address: str) -> None:
    assert not forbidden_address(ipaddress.ip_address(address), allow_loopback=True)


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254", "64:ff9b::7f00:1", "2002:7f00:1::"])
def test_development_mode_still_refuses_internal_and_embedded_loopback(address: str) -> None:
    assert forbidden_address(ipaddress.ip_address(address), allow_loopback=True)


@pytest.mark.parametrize(
    ("address", "embedded"),
    [
        ("::ffff:169.254.169.254", "169.254.169.254"),
        ("::a9fe:a9fe", "169.254.169.254"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("64:ff9b:1:a9fe:a9:fe00::", "169.254.169.254"),
        ("2002:a9fe:a9fe::", "169.254.169.254"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),  # Teredo client (RFC 4380 example)
    ],
)
def test_ipv4_carried_in_ipv6_is_decoded(address: str, embedded: str) -> None:
    carried = embedded_ipv4(ipaddress.IPv6Address(address))
    assert ipaddress.IPv4Address(embedded) in carried


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254",
        "https://10.0.0.5",
        "https://localhost",
        "https://[::1]",
        "https://metadata.google.internal",
        "https://[64:ff9b::a9fe:a9fe]/hook",
        "https://[2002:a9fe:a9fe::]/hook",
        "https://[::a9fe:a9fe]/hook",
        "https://[fec0::1]/hook",
        "https://192.0.0.8/hook",
        "https://printer.local/hook",
        "https://intranet/hook",
        "http://hr.example.com/hook",
    ],
)
def test_production_refuses_internal_urls_naming_the_field(url: str) -> None:
    with pytest.raises(TargetNotAllowed) as refused:
        check_url(url, allow_loopback_http=False, field="body.issuer")
    assert refused.value.errors is not None
    assert refused.value.errors[0].field == "body.issuer"


async def test_a_real_lookup_of_localhost_is_refused_in_production_and_allowed_in_development() -> None:
    target = Target(scheme="https", host="localhost", port=443)
    with pytest.raises(TargetNotAllowed):
        await resolve_allowed(target, allow_loopback=False)
    addresses = await resolve_allowed(target, allow_loopback=True)
    assert addresses
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses)


# --- capped reads against real servers ---


async def _bounded(call: asyncio.Future[object] | object) -> None:
    """The call fails within a generous guard (it must never hang)."""
    assert asyncio.iscoroutine(call)
    await asyncio.wait_for(call, timeout=120)


async def test_an_endless_answer_is_cut_at_the_cap_and_memory_stays_flat() -> None:
    client = OutboundClient(allow_loopback=True, timeout=5)
    try:
        with HostileServer("endless") as server:
            before = rss_bytes()
            for _ in range(3):
                with pytest.raises(AnswerTooLarge):
                    await _bounded(
                        client.request("GET", f"{server.base}/doc", max_bytes=256 * 1024, deadline=60)
                    )
            grown = rss_bytes() - before
            assert server.requests, "the server was called"
    finally:
        await client.aclose()
    assert grown < RSS_BOUND, f"RSS grew {grown // MB} MB"


async def test_a_compressed_answer_is_cut_at_the_cap_once_decoded() -> None:
    with HostileServer("gzip") as server:
        async with httpx.AsyncClient() as plain:
            before = rss_bytes()
            with pytest.raises(AnswerTooLarge):
                await _bounded(
                    fetch_capped(plain, "GET", f"{server.base}/jwks", max_bytes=256 * 1024, deadline=60)
                )
            grown = rss_bytes() - before
    assert grown < RSS_BOUND, f"RSS grew {grown // MB} MB for 300 MB offered"


async def test_an_answer_that_drips_ends_at_the_deadline() -> None:
    client = OutboundClient(allow_loopback=True, timeout=5)  # each read is quicker than this
    try:
        with HostileServer("drip", drip_interval=0.05) as server:
            with pytest.raises(DeadlineExceeded):
                await _bounded(client.request("GET", f"{server.base}/doc", max_bytes=MB, deadline=1.5))
            assert server.sent > 0
    finally:
        await client.aclose()


async def test_a_refused_address_is_never_connected_to() -> None:
    client = OutboundClient(allow_loopback=False, timeout=5)
    try:
        with HostileServer("endless") as server:
            with pytest.raises(TargetRefused):
                await client.request("POST", f"https://127.0.0.1:{server.port}/token", max_bytes=MB)
            with pytest.raises(TargetRefused):
                await client.request("POST", f"https://localhost:{server.port}/token", max_bytes=MB)
            assert server.requests == []
    finally:
        await client.aclose()


async def test_a_key_set_without_end_is_unavailable_not_a_full_memory() -> None:
    with HostileServer("endless") as server:
        plain = JwksClient(f"{server.base}/jwks.json", min_refresh_interval=0, timeout=5)
        outbound = OutboundClient(allow_loopback=True, timeout=5)
        guarded = JwksClient(f"{server.base}/jwks.json", min_refresh_interval=0, timeout=5, outbound=outbound)
        try:
            before = rss_bytes()
            for jwks in (plain, guarded):
                with pytest.raises(JwksUnavailable):
                    await asyncio.wait_for(jwks.get_key_set("any"), timeout=120)
            grown = rss_bytes() - before
        finally:
            await plain.aclose()
            await guarded.aclose()
            await outbound.aclose()
    assert grown < RSS_BOUND, f"RSS grew {grown // MB} MB"


async def test_an_ordinary_answer_is_read_whole() -> None:
    with HostileServer("endless") as server:
        server.answers["/ok"] = lambda: {"keys": []}
        client = OutboundClient(allow_loopback=True, timeout=5)
        try:
            answer = await client.request("GET", f"{server.base}/ok", max_bytes=1024)
        finally:
            await client.aclose()
    assert answer.is_success
    assert answer.json() == {"keys": []}
    assert server.requests[0][1]["host"] == f"127.0.0.1:{server.port}"
    assert server.requests[0][1]["accept-encoding"] == "identity"


def test_outbound_errors_carry_a_short_reason() -> None:
    assert AnswerTooLarge("x").reason == "answer_too_large"
    assert DeadlineExceeded("x").reason == "timeout"
    assert OutboundError("x").reason == "connection_error"
