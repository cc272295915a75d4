"""Cursor pagination: opaque cursors that round-trip sort keys, refuse forgeries, and camelCase pages."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import msgspec
import pytest

from shared.errors import DomainError, FieldError
from shared.http.pagination import Page, decode_cursor, encode_cursor


class Item(msgspec.Struct, frozen=True, rename="camel"):
    item_id: int


def test_a_cursor_round_trips_ints_strings_and_uuids() -> None:
    row_id = uuid.uuid4()
    cursor = encode_cursor(41, "2026-03-01T08:00:00Z", str(row_id))
    assert decode_cursor(cursor, int, str, uuid.UUID) == (41, "2026-03-01T08:00:00Z", row_id)


def test_a_cursor_is_url_safe_and_unpadded() -> None:
    cursor = encode_cursor("ääkköset?&=/+", 2**40)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor(cursor, str, int) == ("ääkköset?&=/+", 2**40)


def _refusal(cursor: str, *types: type[Any]) -> DomainError:
    with pytest.raises(DomainError) as caught:
        decode_cursor(cursor, *types)
    return caught.value


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "",
        "%%%%",
        base64.urlsafe_b64encode(b"{not json").decode(),
        encode_cursor("forty-one"),  # a string where the key is an int
        encode_cursor(41, "extra"),  # a key of another shape
        encode_cursor(41)[:-2],  # truncated
    ],
)
def test_a_garbage_or_tampered_cursor_is_a_400_on_query_cursor(cursor: str) -> None:
    error = _refusal(cursor, int)
    assert error.status == 400
    assert error.errors == [FieldError("query.cursor", "not a cursor from this API")]


def test_a_cursor_of_a_tampered_uuid_is_refused() -> None:
    forged = encode_cursor(1, "not-a-uuid")
    assert _refusal(forged, int, uuid.UUID).errors == [
        FieldError("query.cursor", "not a cursor from this API")
    ]


def test_a_refused_cursor_does_not_echo_its_content() -> None:
    error = _refusal(encode_cursor("secret-customer-name"), int)
    assert "secret-customer-name" not in str(error)
    assert all("secret-customer-name" not in e.message for e in error.errors or [])


def test_a_page_encodes_items_and_next_cursor_in_camel_case() -> None:
    cursor = encode_cursor(2)
    encoded = msgspec.json.decode(msgspec.json.encode(Page(items=[Item(1), Item(2)], next_cursor=cursor)))
    assert encoded == {"items": [{"itemId": 1}, {"itemId": 2}], "nextCursor": cursor}


def test_the_last_page_has_no_next_cursor() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(Page(items=[Item(3)])))
    assert set(encoded) <= {"items", "nextCursor"}
    assert encoded["items"] == [{"itemId": 3}]
    assert "nextCursor" not in encoded  # absent on the last page, as documented


def test_a_page_decodes_from_its_wire_form() -> None:
    page = msgspec.json.decode(b'{"items": [{"itemId": 7}], "nextCursor": "abc"}', type=Page[Item])
    assert page == Page(items=[Item(7)], next_cursor="abc")
