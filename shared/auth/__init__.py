"""Bearer-token authentication for Tila's services: JWKS, verification, middleware and guards."""

from __future__ import annotations

from shared.auth.errors import AuthError, InvalidToken, JwksUnavailable
from shared.auth.guards import principal_of, provide_principal, requires_role, requires_scope
from shared.auth.jwks import JwksClient
from shared.auth.middleware import (
    VERIFIER_STATE_KEY,
    BearerAuthMiddleware,
    VerifierGetter,
    auth_middleware,
    verifier_from_state,
)
from shared.auth.principal import (
    APPROVER,
    BUYER_ADMIN,
    EMPLOYEE,
    PLATFORM_ADMIN,
    PROVIDER_ADMIN,
    SUPERVISOR,
    Principal,
)
from shared.auth.tokens import ALLOWED_ALGORITHMS, TokenVerifier, new_signing_key, sign_token

__all__ = [
    "ALLOWED_ALGORITHMS",
    "APPROVER",
    "BUYER_ADMIN",
    "EMPLOYEE",
    "PLATFORM_ADMIN",
    "PROVIDER_ADMIN",
    "SUPERVISOR",
    "VERIFIER_STATE_KEY",
    "AuthError",
    "BearerAuthMiddleware",
    "InvalidToken",
    "JwksClient",
    "JwksUnavailable",
    "Principal",
    "TokenVerifier",
    "VerifierGetter",
    "auth_middleware",
    "new_signing_key",
    "principal_of",
    "provide_principal",
    "requires_role",
    "requires_scope",
    "sign_token",
    "verifier_from_state",
]
