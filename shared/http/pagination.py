"""Cursor pagination: opaque cursors that encode the last row's sort key."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

from shared.errors import DomainError, FieldError

__all__ = ["Page", "PageSize", "decode_cursor", "encode_cursor"]

T = TypeVar("T")

# The bounds sit on the query parameter itself: Litestar's query parsing does not apply a
# msgspec Meta through FromQuery[...], so limit=0 or 10_000 would get through.
PageSize = Annotated[int, QueryParameter(ge=1, le=200, description="Page size (1–200)")]


class Page(msgspec.Struct, Generic[T], frozen=True, rename="camel", omit_defaults=True):
    items: Annotated[list[T], msgspec.Meta(description="This page's items, in the listing's order")]
    next_cursor: Annotated[
        str | None, msgspec.Meta(description="Pass as cursor to get the next page; absent on the last page")
    ] = None


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type[Any]) -> tuple[Any, ...]:
    """Decode a cursor made by :func:`encode_cursor` into values of ``types``, or a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = msgspec.json.decode(raw, type=tuple[*types])  # type: ignore[valid-type]
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise DomainError(
            "malformed cursor", errors=[FieldError("query.cursor", "not a cursor from this API")]
        ) from None
    return tuple(values)
