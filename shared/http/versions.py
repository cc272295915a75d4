"""Optimistic concurrency over HTTP: an ``ETag`` on what is read, ``If-Match`` on what is changed.

Every change of a versioned resource must say which version it changes: without ``If-Match`` (or
with ``If-Match: *``, which would say "whatever is there") it is refused with 428
``urn:tila:problem:precondition-required``; with an ETag that is no longer current, 412. The OpenAPI
document marks the header required on every such operation (:mod:`shared.http.openapi`).
"""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

from litestar import Response
from litestar.params import HeaderParameter

from shared.errors import FieldError, PreconditionFailed, PreconditionRequired

__all__ = ["IfMatch", "etag", "expected_version", "versioned"]

T = TypeVar("T")

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="if-match",
        description="Required: the ETag last read. Missing or `*` is refused with 428, a stale one with 412",
    ),
]

_ENTITY_TAG = re.compile(r'(?:W/)?"(\d{1,9})"')


def etag(version: int) -> str:
    """The ``ETag`` of a resource at ``version``; send it back as ``If-Match`` to update safely."""
    return f'"{version}"'


def versioned(body: T, version: int, status_code: int = 200) -> Response[T]:
    """``body`` with the ``ETag`` of the version it shows."""
    return Response(body, headers={"ETag": etag(version)}, status_code=status_code)


def expected_version(if_match: str | None) -> int:
    """The version an ``If-Match`` header asks for; a 428 when it is absent or ``*``."""
    if if_match is None:
        raise PreconditionRequired(
            "send If-Match with the ETag you last read of this resource",
            errors=[FieldError("header.If-Match", "required")],
        )
    if if_match.strip() == "*":
        raise PreconditionRequired(
            "If-Match: * is not accepted; send the ETag you last read of this resource",
            errors=[FieldError("header.If-Match", "an ETag this API gave out, not *")],
        )
    match = _ENTITY_TAG.fullmatch(if_match.strip())
    if match is None:
        raise PreconditionFailed("If-Match must be an ETag this API gave out")
    return int(match[1])
