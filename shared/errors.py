"""Errors a use case raises when a rule says no; free of any framework.

The HTTP layer maps each to a problem+json response (``shared.http.errors``): the class
decides the status, the detail and field errors are shown to the caller, so they must never
carry confidential content.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import msgspec

__all__ = [
    "Conflict",
    "DomainError",
    "FieldError",
    "Forbidden",
    "InvariantViolated",
    "NotAllowed",
    "NotFound",
    "PreconditionFailed",
    "PreconditionRequired",
    "RuleBroken",
    "Unauthenticated",
    "Unavailable",
    "WrongState",
    "check_version",
    "fields_at",
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


# --- the refusals a domain raises (one vocabulary for every service) ---


class NotAllowed(Forbidden):
    """The actor's role or relationship to the thing does not allow this (403)."""


class WrongState(Conflict):
    """Valid in itself, but not in the thing's current state (409)."""


class RuleBroken(InvariantViolated):
    """A value breaks a rule (422). ``field`` names it as the API spells it (``durationMinutes``,
    ``postalAddress.city``); ``location`` is where the request carries it (``body``, ``path``), so
    the problem names ``<location>.<field>``; without one ``field`` is the full name already
    (``body.startsAt``)."""

    def __init__(self, field: str, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.locate(location)

    def locate(self, location: str | None) -> None:
        """Say where the request carries the field; the problem's field error follows."""
        self.location = location
        self.errors = [FieldError(self.api_field, self.message)]

    @property
    def api_field(self) -> str:
        """The field as the problem names it: ``body.durationMinutes``."""
        return f"{self.location}.{self.field}" if self.location else self.field


@contextmanager
def fields_at(location: str) -> Iterator[None]:
    """Rules broken inside, not located yet, name their fields at ``location`` (``body``, ``path``).

    The domain names a field the same way whichever request brings it; the use case knows where
    the request carries it (an order's ``justification`` is ``body.`` on create, ``order.`` on a
    transition).
    """
    try:
        yield
    except RuleBroken as exc:
        if exc.location is None:  # the innermost use case that knows the location said it
            exc.locate(location)
        raise


def check_version(current: int, expected: int | None, *, what: str = "resource") -> None:
    """``expected`` comes from ``If-Match``: a client that read an older version must read again."""
    if expected is not None and expected != current:
        raise PreconditionFailed(f"the {what} is at version {current}; read it again before changing it")
