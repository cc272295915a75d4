"""Adapters to the outside world: what the integrations service talks to beyond its database and NATS."""
