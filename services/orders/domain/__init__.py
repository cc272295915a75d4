"""The orders domain: rules and calculations, without I/O."""
