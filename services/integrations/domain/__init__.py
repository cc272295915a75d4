"""The integrations domain: rules without I/O."""
