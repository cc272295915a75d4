"""HTTP API of the sessions service."""
