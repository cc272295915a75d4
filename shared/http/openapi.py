"""The problem responses every operation can give, written into each service's OpenAPI document.

Litestar documents a handler's success and its request-validation 400 (in its own shape, not ours);
the 401/403/404/409/412/413/422/429/503 answers come from shared code (auth, rate limiting, domain
errors → problem+json) and were undocumented, so clients and schemathesis could not tell a
documented refusal from a surprise. :func:`document_problems` adds them, with the real body schema,
once, when the document is first built.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType

from shared.http.errors import PROBLEM_TYPES

__all__ = ["PROBLEM_STATUSES", "document_problems"]

PROBLEM_MEDIA_TYPE = "application/problem+json"

PROBLEM_STATUSES: dict[int, str] = {
    400: "The request does not match the schema",
    401: "No valid bearer token",
    403: "The caller may not do this",
    404: "Not found, or not the caller's to see",
    409: "Conflicts with the resource's state",
    412: "If-Match names a version that is no longer current",
    413: "The request body is too large",
    422: "Breaks a rule; errors name the fields",
    429: "Too many requests from the tenant; retry after Retry-After seconds",
    503: "A dependency is unavailable; retry",
}


def _text(description: str) -> Schema:
    return Schema(type=OpenAPIType.STRING, description=description)


_PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status"],
    properties={
        "type": _text(
            "The kind of problem: a urn:tila:problem:* URN, each listed with its meaning at "
            "GET /<service>/problems: " + ", ".join(kind.type for kind in PROBLEM_TYPES)
        ),
        "title": _text("A short summary of the kind of problem, the same for every problem of the type"),
        "status": Schema(type=OpenAPIType.INTEGER, description="The HTTP status code of the answer"),
        "detail": _text("What went wrong with this request, for a person; never the request's content"),
        "instance": _text("The path of the request the problem is about"),
        "requestId": _text("The request's X-Request-Id; quote it when reporting a problem"),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="The fields at fault, each named by its API name",
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={
                    "field": _text(
                        "Where: body.<path> (body.address.street, body.tags[1]), query.<name>, "
                        "header.<Name>, path.<name>"
                    ),
                    "message": _text("What is wrong with it"),
                },
            ),
        ),
    },
    description="RFC 9457 problem details",
)


def _add_problems(openapi: OpenAPI) -> OpenAPI:
    components = openapi.components
    if isinstance(components, list):  # pragma: no cover - Litestar builds one Components
        return openapi
    if components.schemas is None:
        components.schemas = {}
    components.schemas["Problem"] = _PROBLEM
    for schema in components.schemas.values():
        # A msgspec tagged union's tag field: the one property no Meta can describe.
        for name, prop in (getattr(schema, "properties", None) or {}).items():
            if isinstance(prop, Schema) and prop.const is not None and not prop.description:
                prop.description = f"Always {prop.const!r}: says which kind of {name} this object is"
    problem = OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
    for item in (openapi.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            responses: dict[str, Any] = dict(operation.responses or {})
            for status, description in PROBLEM_STATUSES.items():
                # Litestar's own 400 is documented in its internal shape; ours is a problem.
                if str(status) not in responses or status == 400:
                    responses[str(status)] = OpenAPIResponse(
                        description=description, content={PROBLEM_MEDIA_TYPE: problem}
                    )
            for parameter in operation.parameters or []:
                if getattr(parameter, "param_in", None) == "header" and parameter.name.lower() == "if-match":
                    # The handler declares it optional only to answer its absence with a 428.
                    parameter.required = True
                    responses["428"] = OpenAPIResponse(
                        description="If-Match is missing or `*`; send the ETag last read",
                        content={PROBLEM_MEDIA_TYPE: problem},
                    )
            if operation.request_body is not None:
                responses.setdefault(
                    "415",
                    OpenAPIResponse(
                        description="The body is not in the media type the operation takes",
                        content={PROBLEM_MEDIA_TYPE: problem},
                    ),
                )
            operation.responses = responses
    return openapi


def document_problems(app: Litestar) -> None:
    """Make ``app``'s OpenAPI document list the problem responses on every operation.

    Builds the document now (Litestar caches it) and completes it in place; call it once the app
    has all its routes.
    """
    _add_problems(app.plugins.get(OpenAPIPlugin).provide_openapi())
