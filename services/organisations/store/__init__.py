"""SQL of the organisations service, one module per area: rows <-> domain."""
