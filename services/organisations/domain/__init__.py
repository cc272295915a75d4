"""The organisations domain: rules about tenants, without I/O."""
