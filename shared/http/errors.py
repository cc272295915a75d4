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
from typing import Any

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
    Unavailable,
)
from shared.logging import get_logger

__all__ = [
    "Conflict",
    "DomainError",
    "FieldError",
    "Forbidden",
    "InvariantViolated",
    "NotFound",
    "PreconditionFailed",
    "Problem",
    "Unavailable",
    "exception_handlers",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
log = get_logger(__name__)


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = msgspec.field(default=None, name="requestId")


def _type_uri(slug: str) -> str:
    return f"urn:tila:problem:{slug}"


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


def _validation_errors(extra: Any) -> list[FieldError]:
    errors = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            source = item.get("source") or "body"
            # Litestar gives query/path/header sources as a str Enum, whose f-string is "ParamType.QUERY".
            source = source.value if isinstance(source, Enum) else source
            key = item.get("key")
            message = str(item.get("message", "invalid"))
            # An unknown field is reported on Litestar's whole-body parameter; name the field itself.
            unknown = _UNKNOWN_FIELD.search(message)
            if unknown and source == "body":
                key = unknown.group(1)
            field = f"{source}.{key}" if key else str(source)
            errors.append(FieldError(field=field, message=message))
    return errors


def _on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = _validation_errors(exc.extra)
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
    problem = Problem(type="about:blank", title=title, status=status, detail=detail)
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
        type="about:blank",
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
