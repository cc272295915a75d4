"""The API docs page of each service, with nothing from a CDN.

``GET /<service>/schema`` is a Swagger UI page whose script, style sheet, icon and start-up code
all come from the service's own origin (``/<service>/schema/assets/<version>/…``): the Swagger
UI build ships in a pinned Python package (``swagger-ui-bundle-v2``), so the page works without
internet, and no third party's file runs on the API origin. The page has no inline script or
style; a strict Content-Security-Policy says so to the browser, and the ``<script>``/``<link>``
tags carry Subresource Integrity hashes of the files whose SHA-256 is pinned below.
"""

from __future__ import annotations

import base64
import hashlib
import html
from dataclasses import dataclass
from typing import Any

import swagger_ui_bundle  # type: ignore[import-untyped]
from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath

__all__ = ["DOCS_CSP", "SWAGGER_UI_VERSION", "DocsAssets", "SwaggerOfflinePlugin", "docs_router"]

SWAGGER_UI_VERSION = "5.31.0"

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The page's policy: only its own origin. Swagger UI sets element styles from script, hence
``'unsafe-inline'`` for styles alone; no inline or foreign script runs."""

DOCS_HEADERS = {
    "Content-Security-Policy": DOCS_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}

_PINNED: dict[str, tuple[str, str]] = {
    # name: (media type, SHA-256 of the file in swagger-ui-bundle-v2 5.31.0)
    "swagger-ui-bundle.js": (
        "text/javascript; charset=utf-8",
        "93b7b0862a80e2786f85b560be7693c2344354ffa7e7e224f850a54349724c31",
    ),
    "swagger-ui.css": (
        "text/css; charset=utf-8",
        "9e576f8322132c76949da47f9bb53c891373c303ea3a761ff548ffc9de50a98c",
    ),
    "favicon-32x32.png": ("image/png", "3ed612f41e050ca5e7000cad6f1cbe7e7da39f65fca99c02e99e6591056e5837"),
}

_START = b"""// Starts Swagger UI on the document named by the page (no inline script: see the CSP).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    validatorUrl: "none",
  });
});
"""


@dataclass(frozen=True)
class _Asset:
    media_type: str
    body: bytes

    @property
    def integrity(self) -> str:
        return "sha384-" + base64.b64encode(hashlib.sha384(self.body).digest()).decode()


class DocsAssets:
    """The docs' files, read from the package once and checked against their pinned hashes."""

    def __init__(self) -> None:
        folder = swagger_ui_bundle.swagger_ui_path
        if not str(folder).endswith(SWAGGER_UI_VERSION):
            raise RuntimeError(f"swagger-ui-bundle-v2 ships {folder}, not Swagger UI {SWAGGER_UI_VERSION}")
        self.files: dict[str, _Asset] = {}
        for name, (media_type, sha256) in _PINNED.items():
            body = (folder / name).read_bytes()
            if hashlib.sha256(body).hexdigest() != sha256:
                raise RuntimeError(f"the Swagger UI file {name} is not the pinned one")
            self.files[name] = _Asset(media_type, body)
        self.files["tila-docs.js"] = _Asset("text/javascript; charset=utf-8", _START)


_ASSETS: DocsAssets | None = None


def _assets() -> DocsAssets:
    global _ASSETS  # read once per process
    if _ASSETS is None:
        _ASSETS = DocsAssets()
    return _ASSETS


class SwaggerOfflinePlugin(OpenAPIRenderPlugin):
    """Renders the docs page at the schema router's root, from the assets of :func:`docs_router`."""

    def __init__(self, title: str) -> None:
        super().__init__(path="/swagger")
        self.title = title
        _assets()  # fail at start-up, not on the first visit, if the package is not the pinned one

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        base = request.url.path.rstrip("/").removesuffix("/swagger")
        assets = f"{base}/assets/{SWAGGER_UI_VERSION}"
        files = _assets().files

        def tag(name: str) -> str:
            url = html.escape(f"{assets}/{name}", quote=True)
            sri = files[name].integrity
            if name.endswith(".css"):
                return f'<link rel="stylesheet" href="{url}" integrity="{sri}">'
            return f'<script src="{url}" integrity="{sri}"></script>'

        page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(self.title)}</title>
<link rel="icon" type="image/png" href="{html.escape(assets)}/favicon-32x32.png">
{tag("swagger-ui.css")}
</head>
<body>
<div id="swagger-ui" data-openapi-url="{html.escape(f"{base}/openapi.json", quote=True)}"></div>
{tag("swagger-ui-bundle.js")}
{tag("tila-docs.js")}
</body>
</html>
"""
        return page.encode()

    def receive_router(self, router: Router) -> None:
        router.register(_asset_route())


def _asset_route() -> Any:
    @get(f"/assets/{SWAGGER_UI_VERSION}/{{name:str}}", include_in_schema=False, sync_to_thread=False)
    def asset(name: FromPath[str]) -> Response[bytes]:
        found = _assets().files.get(name)
        if found is None:
            raise NotFoundException()
        return Response(
            found.body,
            media_type=found.media_type,
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    return asset


def docs_router(path: str) -> Router:
    """The router the OpenAPI document, the docs page and its assets live on (``path``), with the
    docs' security headers on every answer."""
    return Router(path, route_handlers=[], include_in_schema=False, response_headers=DOCS_HEADERS)
