"""HTTP for every service: the app builder, problem+json errors, health, metrics and pagination."""
