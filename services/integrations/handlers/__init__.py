"""Use cases of the integrations service: one transaction each, the only place that writes.

- ``feed``: internal events into the public feed and webhook deliveries; the feed's reads;
- ``settings``: the tenant's standing and settings;
- ``webhooks``: webhook endpoints;
- ``deliveries``: deliveries and replays.
"""

from services.integrations.handlers.deliveries import (
    list_deliveries,
    replay_delivery,
)
from services.integrations.handlers.feed import (
    read_feed,
    record_in_feed,
)
from services.integrations.handlers.settings import (
    check_tenant_active,
    read_reason_code,
    set_reason_code,
    tenant_active,
)
from services.integrations.handlers.webhooks import (
    EndpointPolicy,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_endpoints,
    rotate_endpoint_secret,
)
from services.integrations.store import Delivery, Endpoint

__all__ = [
    "Delivery",
    "Endpoint",
    "EndpointPolicy",
    "check_tenant_active",
    "create_endpoint",
    "delete_endpoint",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "read_feed",
    "read_reason_code",
    "record_in_feed",
    "replay_delivery",
    "rotate_endpoint_secret",
    "set_reason_code",
    "tenant_active",
]
