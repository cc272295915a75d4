"""Use cases of the organisations service: one transaction each, the only place that writes.

One module per area (tenants, directory, tokens, clients, login); they share this package's
rule that every change and its events commit together.
"""
