"""The integrations service's handlers (one module for now; split by sub-domain next)."""

from services.integrations.handlers.webhooks import (
    EndpointPolicy,
    check_tenant_active,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_deliveries,
    list_endpoints,
    read_feed,
    read_reason_code,
    record_in_feed,
    replay_delivery,
    rotate_endpoint_secret,
    set_reason_code,
    tenant_active,
)

__all__ = [
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
