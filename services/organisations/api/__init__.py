"""HTTP API of the organisations service."""
