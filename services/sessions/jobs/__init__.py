"""The sessions worker's jobs: what it does on its own, beside consuming events."""

from services.sessions.jobs.retention import RetentionJob, retention_pass

__all__ = ["RetentionJob", "retention_pass"]
