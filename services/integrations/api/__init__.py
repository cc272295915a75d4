"""HTTP API of the integrations service."""
