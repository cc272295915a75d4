"""Adapters to the outside world: what the organisations service talks to beyond its database and NATS."""
