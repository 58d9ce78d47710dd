"""Aggregates: the rules of one claim, and the per-customer limits across claims."""
