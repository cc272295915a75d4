"""Verify bearer JWTs against the issuer's JWKS into a :class:`Principal`, and sign them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import ECKey, KeyParameters, OKPKey
from joserfc.jws import JWSRegistry

from shared.auth.errors import InvalidToken
from shared.auth.jwks import JwksClient
from shared.auth.principal import Principal

__all__ = ["ALLOWED_ALGORITHMS", "TokenVerifier", "new_signing_key", "sign_token"]

ALLOWED_ALGORITHMS: Final[tuple[str, ...]] = ("EdDSA", "ES256")
"""The only JWS algorithms accepted or produced: asymmetric, so a verifier holds no secret."""


class _PinnedRegistry(JWSRegistry):
    """A JWS registry that knows exactly :data:`ALLOWED_ALGORITHMS`.

    joserfc's own lookup emits a ``SecurityWarning`` on every use of ``EdDSA`` because RFC 9864
    deprecates that name in favour of ``Ed25519``. The list is pinned here on purpose, so the
    warning says nothing new, yet it would be raised on every request under ``-W error``.
    """

    def get_alg(self, name: str) -> JWSAlgModel:
        if name not in ALLOWED_ALGORITHMS or name not in self.algorithms:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


_REGISTRY: Final = _PinnedRegistry(algorithms=ALLOWED_ALGORITHMS)


class TokenVerifier:
    """Checks a bearer token's signature, issuer, audience, lifetime and Tila claims.

    Required claims: ``iss`` (= ``issuer``), ``aud`` (contains ``audience``), ``exp``, ``sub``,
    ``tid`` (a UUID) and ``jti`` (every audit line names the token it came from). The header must
    carry a ``kid``: with several keys published during a rotation, a token that does not say
    which one signed it cannot be checked without trying them all.
    """

    def __init__(self, jwks: JwksClient, issuer: str, audience: str, leeway: int = 30) -> None:
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._claims = jwt.JWTClaimsRegistry(
            leeway=leeway,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
            tid={"essential": True},
            jti={"essential": True},
        )

    @property
    def jwks(self) -> JwksClient:
        return self._jwks

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def audience(self) -> str:
        return self._audience

    async def verify(self, token: str) -> Principal:
        """The principal ``token`` proves.

        :raises InvalidToken: for any reason the token cannot be trusted.
        :raises JwksUnavailable: when no signing keys could ever be fetched (the fault is ours).
        """
        principal, _ = await self.verify_claims(token)
        return principal

    async def verify_claims(self, token: str) -> tuple[Principal, dict[str, Any]]:
        """Like :meth:`verify`, also returning the verified claims."""
        header = _read_header(token)
        # Checked before any key is looked up, so a token naming another algorithm costs no JWKS
        # fetch and can never reach a key of the wrong type ("alg confusion").
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise InvalidToken("signing algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("missing key id")
        key_set = await self._jwks.get_key_set(kid)
        try:
            claims = jwt.decode(token, key_set, algorithms=ALLOWED_ALGORITHMS, registry=_REGISTRY).claims
        except InvalidKeyIdError as exc:
            raise InvalidToken("unknown signing key") from exc
        except BadSignatureError as exc:
            raise InvalidToken("bad signature") from exc
        except JoseError as exc:
            raise InvalidToken(f"malformed token ({exc.error})") from exc
        except (ValueError, TypeError) as exc:
            raise InvalidToken("malformed token") from exc
        try:
            self._claims.validate(claims)
        except ExpiredTokenError as exc:
            raise InvalidToken("token expired") from exc
        except MissingClaimError as exc:
            raise InvalidToken(f"missing claim: {exc.claim}") from exc
        except InvalidClaimError as exc:
            raise InvalidToken(f"invalid claim: {exc.claim}") from exc
        return _principal_from(claims), claims


def sign_token(private_key: OKPKey | ECKey, claims: Mapping[str, Any], *, kid: str | None = None) -> str:
    """A compact JWT of ``claims`` signed by ``private_key`` (Ed25519 → EdDSA, P-256 → ES256).

    ``kid`` defaults to the key's own ``kid``; one of them must be set.
    """
    alg = _algorithm_for(private_key)
    kid = kid or private_key.kid
    if not kid:
        raise ValueError("a signing key needs a kid so verifiers can find it")
    # jwt.encode rewrites datetime claims in place; the caller's mapping stays untouched.
    return jwt.encode({"alg": alg, "kid": kid}, dict(claims), private_key, registry=_REGISTRY)


def new_signing_key(kid: str | None = None) -> OKPKey:
    """A fresh Ed25519 signing key; ``kid`` defaults to the key's RFC 7638 thumbprint."""
    parameters: KeyParameters = {"use": "sig", "alg": "EdDSA"}
    if kid is not None:
        parameters["kid"] = kid
    return OKPKey.generate_key("Ed25519", parameters=parameters, auto_kid=kid is None)


def _algorithm_for(key: OKPKey | ECKey) -> str:
    if not key.is_private:
        raise ValueError("signing needs a private key")
    if isinstance(key, OKPKey) and key.curve_name == "Ed25519":
        return "EdDSA"
    if isinstance(key, ECKey) and key.curve_name == "P-256":
        return "ES256"
    raise ValueError(f"no allowed algorithm for a {key.key_type} key on curve {key.curve_name}")


def _read_header(token: str) -> dict[str, Any]:
    try:
        header = jws.extract_compact(token.encode("ascii"), registry=_REGISTRY).headers()
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidToken("malformed token") from exc
    if not isinstance(header, dict):
        raise InvalidToken("malformed token")
    return header


def _principal_from(claims: Mapping[str, Any]) -> Principal:
    tid = claims["tid"]
    try:
        tenant_id = uuid.UUID(tid) if isinstance(tid, str) else None
    except ValueError:
        tenant_id = None
    if tenant_id is None:
        raise InvalidToken("invalid claim: tid")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise InvalidToken("invalid claim: roles")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise InvalidToken("invalid claim: scope")
    subject: str = claims["sub"]
    return Principal(
        subject=subject,
        tenant_id=tenant_id,
        roles=frozenset(roles),
        scopes=frozenset(scope.split()),
        token_id=claims["jti"],
        is_client="client_id" in claims or subject.startswith("client:"),
    )
