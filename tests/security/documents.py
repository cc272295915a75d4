"""The services' OpenAPI documents as their apps build them, without any server: for collecting tests."""

from __future__ import annotations

import functools
import importlib
from typing import Any

from shared.config import ServiceSettings
from tests.security.openapi import Operation, operations
from tila.composition import SERVICES

__all__ = ["all_operations", "document"]


@functools.cache
def document(service: str) -> dict[str, Any]:
    module = importlib.import_module(f"services.{service}.app")
    app = module.create_app(ServiceSettings(service=service, database_url="postgresql://127.0.0.1:1/unused"))
    doc: dict[str, Any] = app.openapi_schema.to_schema()
    return doc


def all_operations() -> list[Operation]:
    return [op for service in SERVICES for op in operations(service, document(service))]
