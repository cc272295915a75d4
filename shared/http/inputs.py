"""Checks every request's inputs get before any handler sees them, once for every service.

- A body sent to an operation that takes JSON must be JSON (``application/json`` or ``+json``): 415.
- JSON nested deeper than :data:`MAX_DEPTH` (or too deep for the decoder) is a 400, not a 500.
- Text anywhere in the body, the query, a form or the path must be text XML 1.0 can carry (an e-invoice,
  a Finvoice or a webhook's consumer must be able to): no C0 control characters other than tab,
  line feed and carriage return, no U+FFFE/U+FFFF, no lone surrogates. A 422 names every such
  field by its API name (``body.address.street``, ``body.tags[1]``, ``query.q``).

The JSON is decoded here once; Litestar keeps the decoded body, so the handler's own decoding
reuses it.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import SerializationException
from litestar.params import BodyKwarg

from shared.errors import DomainError, FieldError

__all__ = [
    "MAX_DEPTH",
    "InvalidText",
    "UnsupportedMediaType",
    "check_request_inputs",
    "invalid_text_fields",
]

MAX_DEPTH = 64
"""How deep arrays and objects may nest in a request body."""

# Everything outside XML 1.0's Char production.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_JSON_MEDIA = re.compile(r"^application/(?:[\w.+-]+\+)?json$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class InvalidText(DomainError):
    status, slug, title = 422, "invalid-text", "Invalid text"


class UnsupportedMediaType(DomainError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class _TooDeep(DomainError):
    status, slug, title = 400, "bad-request", "Bad request"


_MESSAGE = (
    "contains a character XML 1.0 cannot carry (a control character, U+FFFE/U+FFFF or a lone surrogate)"
)


def _bad(text: str) -> bool:
    return _NOT_XML.search(text) is not None


def invalid_text_fields(value: Any, path: str = "body") -> list[FieldError]:
    """The fields of a decoded JSON ``value`` whose text (or key) XML 1.0 cannot carry.

    Walks without recursion; nesting deeper than :data:`MAX_DEPTH` is refused with a 400.
    """
    errors: list[FieldError] = []
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if _bad(item):
                errors.append(FieldError(where, _MESSAGE))
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise _TooDeep(f"the body nests deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    name = str(key)
                    if _bad(name):
                        errors.append(FieldError(where, "a key " + _MESSAGE))
                        continue
                    stack.append((child, f"{where}.{name}", depth + 1))
            else:
                stack.extend((child, f"{where}[{index}]", depth + 1) for index, child in enumerate(item))
    return sorted(errors, key=lambda e: e.field)


def _takes_json(request: Request[Any, Any, Any]) -> bool:
    try:
        data = request.route_handler.parsed_fn_signature.parameters.get("data")
    except Exception:  # pragma: no cover - not routed
        return False
    if data is None:
        return False
    kwarg = data.kwarg_definition
    media = kwarg.media_type if isinstance(kwarg, BodyKwarg) else RequestEncodingType.JSON
    return media == RequestEncodingType.JSON


def _media_type(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _body_json(request: Request[Any, Any, Any]) -> Any:
    try:
        return await request.json()
    except RecursionError:
        raise _TooDeep("the body nests too deeply to read") from None
    except SerializationException as exc:
        # msgspec's message says where the JSON breaks (a byte offset), never what it holds.
        message = str(exc).split(" - ", 1)[0] or "malformed JSON"
        raise DomainError(f"the body is not JSON: {message}") from None


async def check_request_inputs(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook of every service app: see the module docstring."""
    errors: list[FieldError] = []
    for key, value in request.path_params.items():
        if isinstance(value, str) and _bad(value):
            errors.append(FieldError(f"path.{key}", _MESSAGE))
    for key, value in request.query_params.multi_items():
        if _bad(key) or _bad(str(value)):
            errors.append(FieldError(f"query.{key}" if not _bad(key) else "query", _MESSAGE))
    if request.method in _BODY_METHODS:
        media = _media_type(request)
        if _JSON_MEDIA.match(media):
            body = await request.body()
            if body.strip():
                errors += invalid_text_fields(await _body_json(request))
        elif media in ("application/x-www-form-urlencoded", "multipart/form-data"):
            if _takes_json(request):
                raise UnsupportedMediaType("this operation takes application/json")
            form = await request.form()
            for key, value in form.multi_items():
                if isinstance(value, str) and (_bad(key) or _bad(value)):
                    errors.append(FieldError(f"body.{key}" if not _bad(key) else "body", _MESSAGE))
        elif media and _takes_json(request) and (await request.body()):
            raise UnsupportedMediaType("this operation takes application/json")
    if errors:
        raise InvalidText(
            "text must be characters XML 1.0 can carry; see errors",
            errors=sorted(errors, key=lambda e: e.field),
        )
