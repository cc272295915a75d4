"""Optimistic concurrency over HTTP: an ``ETag`` on what is read, ``If-Match`` on what is changed."""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

from litestar import Response
from litestar.params import HeaderParameter

from shared.errors import PreconditionFailed

__all__ = ["IfMatch", "etag", "expected_version", "versioned"]

T = TypeVar("T")

IfMatch = Annotated[
    str | None,
    HeaderParameter(name="if-match", description="The ETag last read; a stale one is refused with 412"),
]

_ENTITY_TAG = re.compile(r'(?:W/)?"(\d{1,9})"')


def etag(version: int) -> str:
    """The ``ETag`` of a resource at ``version``; send it back as ``If-Match`` to update safely."""
    return f'"{version}"'


def versioned(body: T, version: int, status_code: int = 200) -> Response[T]:
    """``body`` with the ``ETag`` of the version it shows."""
    return Response(body, headers={"ETag": etag(version)}, status_code=status_code)


def expected_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header asks for; ``None`` when absent or ``*``."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ENTITY_TAG.fullmatch(if_match.strip())
    if match is None:
        raise PreconditionFailed("If-Match must be an ETag this API gave out")
    return int(match[1])
