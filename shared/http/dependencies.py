"""The dependencies every service's handlers take, named once.

``create_service_app`` provides both: ``pool`` (the service's connection pool) and ``principal``
(the verified caller; a service may provide its own, stricter one).
"""

from __future__ import annotations

import asyncpg
from litestar.di import NamedDependency

from shared.auth.principal import Principal

__all__ = ["Caller", "Pool"]

Pool = NamedDependency[asyncpg.Pool]
"""The service's connection pool: a handler parameter ``pool: Pool``."""

Caller = NamedDependency[Principal]
"""The verified caller: a handler parameter ``principal: Caller``."""
