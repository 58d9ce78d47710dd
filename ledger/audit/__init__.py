"""Tamper evidence (chains and digests), as-of reads, and the audit trail's fields."""
