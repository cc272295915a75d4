"""One ASGI app in front of the five: requests go to the service named by the first path
segment, exactly as an ingress routes them in production."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec

from shared.asgi import ASGIApp, Message, Receive, Scope, Send
from tila.composition import SERVICES, create_service_app

__all__ = ["Gateway", "create_gateway"]


class _Lifespan:
    """Drives one sub-app's lifespan protocol from the gateway's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _receive(self) -> Message:
        return await self.inbox.get()

    async def _send(self, message: Message) -> None:
        await self.outbox.put(message)

    async def _step(self, message_type: str) -> Message:
        await self.inbox.put({"type": message_type})
        return await self.outbox.get()

    async def _serve(self, scope: Scope) -> None:
        await self.app(scope, self._receive, self._send)

    async def startup(self) -> Message:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self.task = asyncio.create_task(self._serve(scope))
        return await self._step("lifespan.startup")

    async def shutdown(self) -> None:
        await self._step("lifespan.shutdown")
        if self.task is not None:
            with contextlib.suppress(Exception):
                await self.task


class Gateway:
    def __init__(self, apps: Mapping[str, ASGIApp]) -> None:
        self.apps = dict(apps)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        segment = scope.get("path", "/").split("/", 2)[1]
        app = self.apps.get(segment)
        if app is not None:
            await app(scope, receive, send)
        elif scope["type"] == "http":
            await self._index_or_404(scope, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        started: list[_Lifespan] = []
        for name, app in self.apps.items():
            runner = _Lifespan(app)
            answer = await runner.startup()
            if answer["type"] != "lifespan.startup.complete":
                for other in reversed(started):
                    await other.shutdown()
                message = f"{name}: {answer.get('message', 'startup failed')}"
                await send({"type": "lifespan.startup.failed", "message": message})
                return
            started.append(runner)
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        for runner in reversed(started):
            await runner.shutdown()
        await send({"type": "lifespan.shutdown.complete"})

    async def _index_or_404(self, scope: Scope, send: Send) -> None:
        services: dict[str, dict[str, str]] = {
            name: {
                "docs": f"/{name}/schema",
                "openapi": f"/{name}/schema/openapi.json",
                "ready": f"/{name}/health/ready",
            }
            for name in self.apps
        }
        if scope.get("path") in ("", "/"):
            status, media = 200, b"application/json"
            body: dict[str, object] = {"name": "Tila", "services": services}
        else:
            status, media = 404, b"application/problem+json"
            body = {
                "type": "urn:tila:problem:not-found",
                "title": "Not Found",
                "status": 404,
                "detail": "no such service; routes start with /" + ", /".join(self.apps),
            }
        payload = msgspec.json.encode(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", media),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-request-id", str(uuid.uuid4()).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def create_gateway() -> Gateway:
    """Factory for granian: every service app, configured from the ``TILA_*`` environment."""
    apps: dict[str, Any] = {service: create_service_app(service) for service in SERVICES}
    return Gateway(apps)
