"""Litestar middleware that turns ``Authorization: Bearer <jwt>`` into a verified :class:`Principal`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.exceptions import (
    ImproperlyConfiguredException,
    NotAuthorizedException,
    ServiceUnavailableException,
)
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.types import ASGIApp

from shared.auth.errors import InvalidToken, JwksUnavailable
from shared.auth.tokens import TokenVerifier
from shared.logging import bind_context

__all__ = [
    "VERIFIER_STATE_KEY",
    "BearerAuthMiddleware",
    "VerifierGetter",
    "auth_middleware",
    "verifier_from_state",
]

VERIFIER_STATE_KEY: Final = "token_verifier"
"""Key of the :class:`TokenVerifier` in ``app.state``; the app builder sets it in its lifespan."""

_Connection = ASGIConnection[Any, Any, Any, Any]
VerifierGetter = Callable[[_Connection], TokenVerifier]
"""Finds the verifier for a connection; the default reads it from ``app.state``."""

_CHALLENGE_MISSING: Final = "Bearer"
_CHALLENGE_INVALID: Final = 'Bearer error="invalid_token"'


def verifier_from_state(connection: _Connection) -> TokenVerifier:
    """The verifier stored in ``app.state`` under :data:`VERIFIER_STATE_KEY`."""
    verifier = connection.app.state.get(VERIFIER_STATE_KEY)
    if not isinstance(verifier, TokenVerifier):
        raise ImproperlyConfiguredException(f"app.state.{VERIFIER_STATE_KEY} holds no TokenVerifier")
    return verifier


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Authenticates every request not excluded; there is no anonymous access to a protected route.

    A missing token is answered with 401 and ``WWW-Authenticate: Bearer``; a token that fails
    verification with 401 and ``error="invalid_token"``, the reason in the body (never the token).
    When the issuer's keys cannot be fetched at all the answer is 503: the caller's token is
    not at fault, and a 401 would make clients throw good tokens away.
    """

    def __init__(
        self,
        app: ASGIApp,
        exclude: str | list[str] | None = None,
        verifier_getter: VerifierGetter = verifier_from_state,
    ) -> None:
        super().__init__(app, exclude=exclude)
        self._verifier_getter = verifier_getter

    async def authenticate_request(self, connection: _Connection) -> AuthenticationResult:
        token = _bearer_token(connection.headers.get("authorization"))
        if token is None:
            raise NotAuthorizedException(
                "missing bearer token", headers={"WWW-Authenticate": _CHALLENGE_MISSING}
            )
        verifier = self._verifier_getter(connection)
        try:
            principal, claims = await verifier.verify_claims(token)
        except InvalidToken as exc:
            raise NotAuthorizedException(
                f"invalid token: {exc.reason}", headers={"WWW-Authenticate": _CHALLENGE_INVALID}
            ) from exc
        except JwksUnavailable as exc:
            raise ServiceUnavailableException("token signing keys are unavailable") from exc
        bind_context(principal_id=principal.subject, tenant_id=str(principal.tenant_id))
        return AuthenticationResult(user=principal, auth=claims)


def auth_middleware(
    exclude: Sequence[str] = (), *, verifier_getter: VerifierGetter = verifier_from_state
) -> DefineMiddleware:
    """The bearer-auth middleware, skipping paths that fully match one of the ``exclude`` regexes.

    Each pattern is anchored at both ends (Litestar itself searches anywhere in the path, so an
    unanchored ``/health`` would also unlock ``/tenants/x/health``). Write ``/schema(/.*)?``
    to exclude a subtree.
    """
    anchored = [rf"^(?:{pattern})\Z" for pattern in exclude]
    return DefineMiddleware(BearerAuthMiddleware, exclude=anchored or None, verifier_getter=verifier_getter)


def _bearer_token(header: str | None) -> str | None:
    """The token of a ``Bearer`` credential; None when the header is absent or another scheme."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
