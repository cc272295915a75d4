"""The errors :mod:`shared.auth` raises, kept apart so callers can catch them without importing joserfc."""

from __future__ import annotations

__all__ = ["AuthError", "InvalidToken", "JwksUnavailable"]


class AuthError(Exception):
    """Base class of every error raised by :mod:`shared.auth`."""


class InvalidToken(AuthError):
    """The bearer token cannot be trusted; the reason is safe to show and never contains the token."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class JwksUnavailable(AuthError):
    """No signing keys could be obtained from the issuer; the fault is ours, not the caller's token's."""
