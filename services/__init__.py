"""Tila's five services: organisations, orders, sessions, billing and integrations."""
