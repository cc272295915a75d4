"""Which addresses Tila may call on a third party's behalf (SSRF), without I/O.

One policy for every outbound call to an address a tenant chose (webhooks, identity providers):
production calls only https on public unicast addresses; with ``allow_loopback`` (development
and tests only) also http and https to this machine's loopback interface.

"Public" is decided by this module's own table of the IANA special-purpose registries (IPv4
and IPv6) and, in addition, by Python's ``is_global`` (the stricter of the two wins). Python
3.11.7's tables predate the CVE-2024-4032 fixes, so they are never relied on alone. IPv6
addresses that carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are
decoded and the IPv4 address must pass too: ``[64:ff9b::a9fe:a9fe]`` is 169.254.169.254.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from shared.errors import DomainError, FieldError

__all__ = [
    "NON_PUBLIC_V4",
    "NON_PUBLIC_V6",
    "Target",
    "TargetNotAllowed",
    "check_addresses",
    "check_url",
    "embedded_ipv4",
    "forbidden_address",
    "is_loopback_host",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

NON_PUBLIC_V4: tuple[ipaddress.IPv4Network, ...] = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network" (RFC 791)
        "10.0.0.0/8",  # private use (RFC 1918)
        "100.64.0.0/10",  # shared address space, CGNAT (RFC 6598)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata services
        "172.16.0.0/12",  # private use
        "192.0.0.0/24",  # IETF protocol assignments, all of it (incl. 192.0.0.8, 192.0.0.170/31)
        "192.0.2.0/24",  # documentation TEST-NET-1
        "192.31.196.0/24",  # AS112-v4
        "192.52.193.0/24",  # AMT
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private use
        "192.175.48.0/24",  # direct delegation AS112
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation TEST-NET-2
        "203.0.113.0/24",  # documentation TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255 limited broadcast
    )
)
"""IPv4 ranges never called (IANA IPv4 special-purpose registry, plus multicast)."""

NON_PUBLIC_V6: tuple[ipaddress.IPv6Network, ...] = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/96",  # unspecified, loopback and deprecated IPv4-compatible addresses (RFC 4291)
        "::ffff:0:0/96",  # IPv4-mapped: called only through the IPv4 address itself
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation (RFC 8215)
        "100::/64",  # discard-only (RFC 6666)
        "100:0:0:1::/64",  # dummy prefix (RFC 9780)
        "2001::/23",  # IETF protocol assignments, incl. Teredo, ORCHID, benchmarking
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4: a tunnel into whatever IPv4 address it carries
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 SIDs (RFC 9602)
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local (RFC 3879)
        "ff00::/8",  # multicast
    )
)
"""IPv6 ranges never called (IANA IPv6 special-purpose registry, plus site-local and multicast)."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain", ".lan", ".intranet")
"""Names that only mean something inside a network (RFC 6761, 6762, 8375; cloud metadata hosts)."""


class TargetNotAllowed(DomainError):
    """A URL or the addresses its host resolves to may not be called."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, compatible, NAT64, 6to4, Teredo."""
    value = int(address)
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in _COMPATIBLE and value > 1:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if address in _NAT64_LOCAL:
        # RFC 6052 §2.2, /48 prefix: bits 48-63 and 72-87 (bits 64-71, the "u" octet, skipped);
        # and the /96 layout some translators use within it. The prefix is refused anyway.
        found.append(ipaddress.IPv4Address((((value >> 64) & 0xFFFF) << 16) | ((value >> 40) & 0xFFFF)))
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client)
    return found


def _forbidden_v4(address: ipaddress.IPv4Address) -> bool:
    return any(address in network for network in NON_PUBLIC_V4) or not address.is_global


def forbidden_address(address: Address, *, allow_loopback: bool) -> bool:
    """True for anything but a public unicast address; loopback passes with ``allow_loopback``.

    An IPv6 address is refused if it or any IPv4 address it carries is not public."""
    if allow_loopback and (
        address.is_loopback
        or (isinstance(address, ipaddress.IPv6Address) and (address.ipv4_mapped or address).is_loopback)
    ):
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return _forbidden_v4(address)
    if any(_forbidden_v4(v4) for v4 in embedded_ipv4(address)):
        return True
    return (
        any(address in network for network in NON_PUBLIC_V6)
        or not address.is_global
        or address.is_multicast
        or address.is_site_local
    )


def check_addresses(addresses: Iterable[str], *, allow_loopback: bool) -> None:
    """Every address a host resolved to must be allowed (else one answer could be an internal one)."""
    seen = False
    for text in addresses:
        seen = True
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if forbidden_address(address, allow_loopback=allow_loopback):
            raise TargetNotAllowed(f"the host resolves to a non-public address ({address})")
    if not seen:
        raise TargetNotAllowed("the host does not resolve")


def is_loopback_host(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_loopback_http: bool, field: str = "body.url") -> Target:
    """The URL's scheme, host and port if Tila may call it, else :class:`TargetNotAllowed`
    naming ``field``.

    Production: https only, no credentials in the URL, no fragment, no literal address outside
    the public internet, no name that only means something inside a network. With
    ``allow_loopback_http`` (development and tests only): also http and https to loopback.
    """

    def refused(message: str) -> TargetNotAllowed:
        return TargetNotAllowed(message, errors=[FieldError(field, message)])

    if len(url) > 2000:
        raise refused("the URL is longer than 2000 characters")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise refused("not a URL") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not host:
        raise refused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise refused("credentials may not be part of the URL")
    if parts.fragment:
        raise refused("the URL may not have a fragment")
    loopback = is_loopback_host(host)
    if scheme == "http":
        if not (allow_loopback_http and loopback):
            raise refused("the URL must use https")
    elif scheme != "https":
        raise refused("the URL must use https")
    if loopback and not allow_loopback_http:
        raise refused("loopback addresses are not allowed")
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and forbidden_address(literal, allow_loopback=allow_loopback_http):
        raise refused("private, loopback and link-local addresses are not allowed")
    if (
        literal is None
        and not loopback
        and (host.rstrip(".").endswith(_INTERNAL_SUFFIXES) or "." not in host)
    ):
        raise refused("the host must be a public internet name")
    return Target(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80))
