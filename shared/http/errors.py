"""Errors as ``application/problem+json`` (RFC 9457), mapped once for every service.

Domain code and handlers raise :mod:`shared.errors`; validation failures carry field-level
detail; anything unexpected becomes a 500 whose body says nothing about the request and
whose log line names only the error's type and place (exception messages can carry data).
"""

from __future__ import annotations

import re
import traceback
from enum import Enum
from http import HTTPStatus
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from shared.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvariantViolated,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unavailable,
)
from shared.logging import get_logger

__all__ = [
    "PROBLEM_TYPES",
    "Conflict",
    "DomainError",
    "FieldError",
    "Forbidden",
    "InvariantViolated",
    "NotFound",
    "PreconditionFailed",
    "PreconditionRequired",
    "Problem",
    "ProblemType",
    "Unavailable",
    "exception_handlers",
    "problem_type_uri",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
log = get_logger(__name__)


class ProblemType(msgspec.Struct, frozen=True):
    """One kind of problem this API answers with: its ``type`` URN, status, title and meaning."""

    type: Annotated[str, msgspec.Meta(description="The problem's type URN (urn:tila:problem:<slug>)")]
    status: Annotated[int, msgspec.Meta(description="The HTTP status problems of this type have")]
    title: Annotated[str, msgspec.Meta(description="The title problems of this type carry")]
    description: Annotated[str, msgspec.Meta(description="When this problem is answered and what to do")]


def problem_type_uri(slug: str) -> str:
    """The ``type`` of the problems of kind ``slug``: ``urn:tila:problem:<slug>``."""
    return f"urn:tila:problem:{slug}"


def _kind(slug: str, status: int, title: str, description: str) -> ProblemType:
    return ProblemType(type=problem_type_uri(slug), status=status, title=title, description=description)


PROBLEM_TYPES: tuple[ProblemType, ...] = (
    _kind(
        "bad-request",
        400,
        "Bad request",
        "The request cannot be read or breaks a request rule "
        "(malformed or too deeply nested JSON, a malformed cursor); detail says what.",
    ),
    _kind(
        "validation",
        400,
        "Invalid request",
        "The request does not match the schema; errors name "
        "each field by its API name (body.address.street, query.periodFrom, header.If-Match).",
    ),
    _kind("invalid-data", 400, "Invalid request", "A value cannot be stored (out of range)."),
    _kind("unauthenticated", 401, "Unauthorized", "No valid bearer token; see WWW-Authenticate."),
    _kind("forbidden", 403, "Forbidden", "The caller may not do this."),
    _kind("not-found", 404, "Not found", "No such resource or route, or not the caller's to see."),
    _kind("method-not-allowed", 405, "Method not allowed", "The route does not take this method."),
    _kind("conflict", 409, "Conflict", "Conflicts with the resource's state or a request in flight."),
    _kind("gone", 410, "Gone", "The resource existed and is no longer kept."),
    _kind(
        "precondition-failed",
        412,
        "Precondition failed",
        "If-Match names a version that is no "
        "longer current, or is not an ETag this API gave out; read the resource again.",
    ),
    _kind("too-large", 413, "Content too large", "The request body is over the limit."),
    _kind(
        "unsupported-media-type",
        415,
        "Unsupported media type",
        "The body is not in the media "
        "type the operation takes (application/json unless the operation says otherwise).",
    ),
    _kind(
        "invalid-text",
        422,
        "Invalid text",
        "Text carries characters XML 1.0 cannot (control "
        "characters other than tab, line feed and carriage return, U+FFFE, U+FFFF, lone "
        "surrogates); errors name the fields.",
    ),
    _kind("invariant-violated", 422, "Rule violated", "Breaks a domain rule; errors name the fields."),
    _kind(
        "precondition-required",
        428,
        "Precondition required",
        "A change of a versioned resource "
        "must send If-Match with the ETag last read (If-Match: * is not accepted).",
    ),
    _kind(
        "rate-limited",
        429,
        "Too many requests",
        "Too many requests from the tenant; retry after Retry-After seconds.",
    ),
    _kind("internal", 500, "Internal server error", "A fault on Tila's side; quote requestId."),
    _kind(
        "content-unreadable",
        500,
        "Internal server error",
        "Stored content cannot be decrypted with the keys at hand; quote requestId.",
    ),
    _kind("unavailable", 503, "Service Unavailable", "A backing service is unreachable; retry shortly."),
)
"""Every ``type`` a problem of this API carries, served at ``GET /<service>/problems``."""

_BY_STATUS: dict[int, str] = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "gone",
    412: "precondition-failed",
    413: "too-large",
    415: "unsupported-media-type",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal",
    503: "unavailable",
}


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = msgspec.field(default=None, name="requestId")


_type_uri = problem_type_uri


def _response(
    request: Request[Any, Any, Any], problem: Problem, headers: dict[str, str] | None = None
) -> Response[Any]:
    problem = msgspec.structs.replace(
        problem, instance=request.url.path, request_id=request.scope.get("state", {}).get("request_id")
    )
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _parameter_name(request: Request[Any, Any, Any], key: str, source: str) -> str:
    """The API name of the handler parameter ``key`` (``periodFrom``, ``Idempotency-Key``)."""
    try:
        parameters = request.route_handler.parsed_fn_signature.parameters
    except Exception:  # pragma: no cover - no route (the error came before routing)
        return key
    definition = parameters.get(key)
    kwarg = getattr(definition, "kwarg_definition", None)
    name = key
    if kwarg is not None:
        name = (
            getattr(kwarg, "header", None)
            or getattr(kwarg, "query", None)
            or getattr(kwarg, "cookie", None)
            or getattr(kwarg, "name", None)
            or key
        )
    return _header_name(name) if source == "header" else name


def _body_field(key: str | None, message: str) -> str:
    # Litestar names the whole body "data"; a missing or unknown field is reported on its parent.
    path = "" if key in (None, "", "data") else str(key)
    named = _MISSING_FIELD.search(message) or _UNKNOWN_FIELD.search(message)
    if named:
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return f"body.{path}" if path else "body"


def _validation_errors(request: Request[Any, Any, Any], extra: Any) -> list[FieldError]:
    errors = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            source = item.get("source") or "body"
            # Litestar gives query/path/header sources as a str Enum, whose f-string is "ParamType.QUERY".
            source = source.value if isinstance(source, Enum) else source
            key = item.get("key")
            message = str(item.get("message", "invalid"))
            if source == "body":
                field = _body_field(key, message)
            else:
                field = f"{source}.{_parameter_name(request, key, source)}" if key else str(source)
            errors.append(FieldError(field=field, message=message))
    return errors


def _on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = _validation_errors(request, exc.extra)
    problem = Problem(
        type=_type_uri("validation"),
        title="Invalid request",
        status=400,
        detail="The request does not match the schema; see errors.",
        errors=errors or None,
    )
    return _response(request, problem)


def _on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        return _on_validation(request, exc)
    status = exc.status_code
    title = HTTPStatus(status).phrase if status in {s.value for s in HTTPStatus} else "Error"
    detail = exc.detail if exc.detail and exc.detail != title else None
    slug = _BY_STATUS.get(status, "bad-request" if status < 500 else "internal")
    problem = Problem(type=_type_uri(slug), title=title, status=status, detail=detail)
    return _response(request, problem, headers=exc.headers)


def _on_domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    problem = Problem(
        type=_type_uri(exc.slug), title=exc.title, status=exc.status, detail=exc.detail, errors=exc.errors
    )
    return _response(request, problem)


def _on_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("dependency_unavailable", error_type=type(exc).__qualname__)
    problem = Problem(
        type=_type_uri("unavailable"),
        title="Service Unavailable",
        status=503,
        detail="A backing service is unreachable; retry shortly.",
    )
    return _response(request, problem, headers={"Retry-After": "2"})


def _on_bad_data(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Text PostgreSQL cannot store (a NUL byte, say) or a value out of a column's range.
    problem = Problem(
        type=_type_uri("invalid-data"),
        title="Invalid request",
        status=400,
        detail="The request carries a value that cannot be stored (control characters, out of range).",
    )
    return _response(request, problem)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    log.error(
        "unhandled_error",
        error_type=type(exc).__qualname__,
        where=f"{frame.filename}:{frame.lineno}" if frame else None,
    )
    problem = Problem(
        type=_type_uri("internal"),
        title="Internal server error",
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        detail="Something went wrong on our side; quote the request id when reporting it.",
    )
    return _response(request, problem)


exception_handlers: dict[type[Exception] | int, Any] = {
    ValidationException: _on_validation,
    HTTPException: _on_http,
    DomainError: _on_domain,
    # The database went away or refused connections: say "retry", not "our bug".
    ConnectionError: _on_unavailable,
    asyncpg.PostgresConnectionError: _on_unavailable,
    asyncpg.CannotConnectNowError: _on_unavailable,
    asyncpg.DataError: _on_bad_data,
    Exception: _on_unexpected,
}
