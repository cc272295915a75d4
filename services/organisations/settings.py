"""Settings of the organisations service beyond the common ones."""

from __future__ import annotations

from shared.config import ServiceSettings

__all__ = ["ACCESS_TOKEN_TTL_SECONDS", "OrganisationsSettings"]

ACCESS_TOKEN_TTL_SECONDS = 600


class OrganisationsSettings(ServiceSettings, frozen=True, kw_only=True):
    signing_keys_file: str = ""
    """The keyring (see ``keys.py``) that signs Tila's tokens; its public half is served at
    ``/organisations/.well-known/jwks.json``."""
    access_token_ttl_seconds: int = ACCESS_TOKEN_TTL_SECONDS
    """Access tokens live at most ten minutes; services verify them without calling us."""
    public_base_url: str = "http://127.0.0.1:8000"
    """Where browsers reach Tila; login callbacks are ``<this>/organisations/login/<tenant>/callback``."""
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    """The absolute lifetime of a login's refresh-token family, however often it rotates."""
