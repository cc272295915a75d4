"""Every route handler and controller of the sessions app: app.py registers ``ROUTES``.

A part of the service adds its controllers by appending to this list (one import, one line).
"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from services.sessions.api.processes import ProcessController
from services.sessions.api.sessions import SessionController
from shared.tenancy import known_tenant_route

__all__ = ["ROUTES"]

ROUTES: list[ControllerRouterHandler] = [known_tenant_route("sessions"), ProcessController, SessionController]

from services.sessions.api.content import ContentController, set_content_retention  # noqa: E402

ROUTES += [ContentController, set_content_retention]
