"""The sessions domain: rules and calculations, without I/O."""
