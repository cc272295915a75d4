"""Adapters to the outside world: what the sessions service talks to beyond its database and NATS."""
