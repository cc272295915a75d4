"""Fixtures and helpers that start real servers for Tila's tests."""
