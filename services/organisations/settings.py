"""Settings of the organisations service beyond the common ones."""

from __future__ import annotations

from shared.config import ServiceSettings

__all__ = ["OrganisationsSettings"]


class OrganisationsSettings(ServiceSettings, frozen=True, kw_only=True):
    signing_keys_file: str = ""
    """A JSON Web Key Set of private signing keys, newest first. Its public half is served
    at ``/organisations/.well-known/jwks.json``; the first key signs new tokens."""
