"""Orders: framework agreements and the supervision order lifecycle."""

from pathlib import Path

from shared.approvers import MIGRATIONS as APPROVER_MIGRATIONS
from shared.db.migrate import MigrationSource
from shared.events import MIGRATIONS as EVENT_MIGRATIONS
from shared.http.idempotency import MIGRATIONS as IDEMPOTENCY_MIGRATIONS
from shared.tenancy import MIGRATIONS as TENANCY_MIGRATIONS

SERVICE = "orders"
MIGRATIONS = [
    EVENT_MIGRATIONS,
    TENANCY_MIGRATIONS,
    IDEMPOTENCY_MIGRATIONS,
    APPROVER_MIGRATIONS,
    MigrationSource("orders", Path(__file__).parent / "migrations"),
]
