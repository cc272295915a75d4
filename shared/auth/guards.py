"""Litestar guards and a dependency that require a verified :class:`Principal` on the connection."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.types import Guard

from shared.auth.principal import Principal

__all__ = ["principal_of", "provide_principal", "requires_role", "requires_scope"]


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The connection's principal, set by the bearer-auth middleware.

    :raises NotAuthorizedException: on a route the middleware excluded, which has none.
    """
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException("authentication required", headers={"WWW-Authenticate": "Bearer"})
    return user


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """Dependency provider for handlers that take ``principal: Caller`` (``shared.http.dependencies``).

    ``create_service_app`` registers it for every service as ``"principal"``.
    """
    return principal_of(request)


def requires_role(*roles: str) -> Guard:
    """A guard that answers 403 unless the principal has any of ``roles``.

    No role implies another: a platform admin passes only where ``PLATFORM_ADMIN`` is listed,
    so every cross-tenant power is visible at the route that grants it.
    """
    if not roles:
        raise ValueError("requires_role needs at least one role")

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not principal_of(connection).has_role(*roles):
            raise PermissionDeniedException("insufficient role")

    return guard


def requires_scope(*scopes: str) -> Guard:
    """A guard that answers 403 unless the principal was granted every one of ``scopes``."""
    if not scopes:
        raise ValueError("requires_scope needs at least one scope")

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = principal_of(connection)
        if not all(principal.has_scope(scope) for scope in scopes):
            raise PermissionDeniedException("insufficient scope")

    return guard
