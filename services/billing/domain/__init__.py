"""The billing domain: rules and calculations, without I/O."""
