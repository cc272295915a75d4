"""Errors a use case raises when a rule says no; free of any framework.

The HTTP layer maps each to a problem+json response (``shared.http.errors``): the class
decides the status, the detail and field errors are shown to the caller, so they must never
carry confidential content.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "Conflict",
    "DomainError",
    "FieldError",
    "Forbidden",
    "InvariantViolated",
    "NotFound",
    "PreconditionFailed",
    "PreconditionRequired",
    "Unauthenticated",
    "Unavailable",
    "check_version",
]


class FieldError(msgspec.Struct, frozen=True):
    """One invalid field: where (``body.businessId``, ``query.limit``) and what is wrong."""

    field: str
    message: str


class DomainError(Exception):
    """A rule said no. Subclasses choose the status; messages must never carry content."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class Unauthenticated(DomainError):
    status, slug, title = 401, "unauthenticated", "Unauthorized"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(DomainError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(DomainError):
    """A change of a versioned resource must say which version it acts on (``If-Match``): 428."""

    status, slug, title = 428, "precondition-required", "Precondition required"


class InvariantViolated(DomainError):
    status, slug, title = 422, "invariant-violated", "Rule violated"


class Unavailable(DomainError):
    status, slug, title = 503, "unavailable", "Service Unavailable"


def check_version(current: int, expected: int | None, *, what: str = "resource") -> None:
    """``expected`` comes from ``If-Match``: a client that read an older version must read again."""
    if expected is not None and expected != current:
        raise PreconditionFailed(f"the {what} is at version {current}; read it again before changing it")
