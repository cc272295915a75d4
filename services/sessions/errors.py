"""Refusals of the sessions service that ``shared.errors`` has no class for."""

from __future__ import annotations

from shared.errors import DomainError

__all__ = ["PreconditionRequired"]


class PreconditionRequired(DomainError):
    """The request must say which version it acts on (``If-Match``): 428."""

    status, slug, title = 428, "precondition-required", "Precondition required"
