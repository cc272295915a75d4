"""The organisations service consumes no other service's events: it is where tenants begin."""
