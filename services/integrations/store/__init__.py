"""SQL of the integrations service: one function per query, every one inside a tenant transaction
except the scheduler's two (see the 0003 migration); typed rows out (``records``).

- ``feed``: the public event feed;
- ``read_models``: people, cost centres, the tenant's settings;
- ``endpoints``: webhook endpoints;
- ``deliveries``: webhook deliveries and the delivery schedule.
"""

from services.integrations.store.deliveries import (
    act_as_scheduler,
    drop_pending,
    extend_lease,
    fetch_delivery,
    head_delivery,
    insert_delivery,
    lease_endpoints,
    list_deliveries,
    lock_due_endpoints,
    mark_delivered,
    mark_failed,
    refresh_schedule,
    replay_delivery,
    restart_windows_behind,
    retry_window_start,
    subscribed_endpoints,
)
from services.integrations.store.endpoints import (
    delete_endpoint,
    fetch_endpoint,
    insert_endpoint,
    list_endpoints,
    rotate_secret,
)
from services.integrations.store.feed import (
    fetch_feed_page,
    insert_feed_entry,
)
from services.integrations.store.read_models import (
    cost_centre_codes,
    employee_numbers,
    reason_code,
    set_person_inactive,
    set_reason_code,
    upsert_cost_centre,
    upsert_person,
)
from services.integrations.store.records import Delivery, DueEndpoint, Endpoint, FeedEntry, PendingDelivery

__all__ = [
    "Delivery",
    "DueEndpoint",
    "Endpoint",
    "FeedEntry",
    "PendingDelivery",
    "act_as_scheduler",
    "cost_centre_codes",
    "delete_endpoint",
    "drop_pending",
    "employee_numbers",
    "extend_lease",
    "fetch_delivery",
    "fetch_endpoint",
    "fetch_feed_page",
    "head_delivery",
    "insert_delivery",
    "insert_endpoint",
    "insert_feed_entry",
    "lease_endpoints",
    "list_deliveries",
    "list_endpoints",
    "lock_due_endpoints",
    "mark_delivered",
    "mark_failed",
    "reason_code",
    "refresh_schedule",
    "replay_delivery",
    "restart_windows_behind",
    "retry_window_start",
    "rotate_secret",
    "set_person_inactive",
    "set_reason_code",
    "subscribed_endpoints",
    "upsert_cost_centre",
    "upsert_person",
]
