"""Plain parameterised SQL of the sessions service, one function per query."""
