"""Compare the database with a blueprint and say, per zone, what the executor would do and
what would make it fail."""

from reconfigurator.audit.auditor import (
    AuditReport,
    Finding,
    FindingKind,
    audit,
    audit_read_only,
)

__all__ = ["AuditReport", "Finding", "FindingKind", "audit", "audit_read_only"]
