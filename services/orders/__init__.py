"""Orders: framework agreements and the supervision order lifecycle."""

from shared.events import MIGRATIONS as EVENT_MIGRATIONS
from shared.tenancy import MIGRATIONS as TENANCY_MIGRATIONS

SERVICE = "orders"
MIGRATIONS = [EVENT_MIGRATIONS, TENANCY_MIGRATIONS]
