"""The sessions service's use cases: the only code that writes its tables."""
