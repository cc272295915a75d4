"""PostgreSQL access: pools, tenant transactions, migrations and provisioning."""

from shared.db.pool import create_pool
from shared.db.tenant import tenant_transaction

__all__ = ["create_pool", "tenant_transaction"]
