"""Who is calling: the verified identity a bearer token carries, as a frozen msgspec Struct."""

from __future__ import annotations

import uuid

import msgspec

__all__ = [
    "APPROVER",
    "BUYER_ADMIN",
    "EMPLOYEE",
    "PLATFORM_ADMIN",
    "PROVIDER_ADMIN",
    "SUPERVISOR",
    "Principal",
]

BUYER_ADMIN = "buyer_admin"
APPROVER = "approver"
EMPLOYEE = "employee"
PROVIDER_ADMIN = "provider_admin"
SUPERVISOR = "supervisor"
PLATFORM_ADMIN = "platform_admin"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """A caller whose token has been verified.

    ``is_client`` marks a machine client (client-credentials grant) rather than a person. The
    rule is deliberately simple: the token has a ``client_id`` claim, or its ``sub`` starts with
    ``client:``. Services use it to refuse person-only actions, never to grant anything.
    """

    subject: str
    """The token's ``sub``."""
    tenant_id: uuid.UUID
    """The token's ``tid``: the organisation the caller acts for."""
    roles: frozenset[str] = frozenset()
    """The token's ``roles`` claim."""
    scopes: frozenset[str] = frozenset()
    """The token's space-separated ``scope`` claim, split."""
    token_id: str = ""
    """The token's ``jti``, for audit logs."""
    is_client: bool = False

    def has_role(self, *roles: str) -> bool:
        """True when the principal has any of ``roles`` (no role implies another)."""
        return not self.roles.isdisjoint(roles)

    def has_scope(self, scope: str) -> bool:
        """True when the principal was granted ``scope``."""
        return scope in self.scopes
