"""Settings of the organisations service beyond the common ones."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.config import ServiceSettings

__all__ = ["ACCESS_TOKEN_TTL_SECONDS", "OrganisationsSettings"]

ACCESS_TOKEN_TTL_SECONDS = 600


class OrganisationsSettings(ServiceSettings, frozen=True, kw_only=True):
    signing_keys_file: str = ""
    """The keyring (see ``keys.py``) that signs Tila's tokens; its public half is served at
    ``/organisations/.well-known/jwks.json``."""
    access_token_ttl_seconds: Annotated[int, msgspec.Meta(ge=60, le=ACCESS_TOKEN_TTL_SECONDS)] = (
        ACCESS_TOKEN_TTL_SECONDS
    )
    """Access tokens live at most ten minutes; services verify them without calling us."""
    public_base_url: str = "http://127.0.0.1:8000"
    """Where browsers reach Tila; login callbacks are ``<this>/organisations/login/<tenant>/callback``."""
    refresh_token_ttl_seconds: Annotated[int, msgspec.Meta(ge=60, le=24 * 3600)] = 12 * 3600
    """The absolute lifetime of a login's refresh-token family, however often it rotates: a
    working day, then the person logs in again at their provider."""
    allow_loopback_http_issuers: bool = False
    """Accept identity providers on http://127.0.0.1 (the local stack and tests); never in production."""
