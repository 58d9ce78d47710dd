"""Domain errors: each carries a stable slug, the rule it enforces and the offending field.

The kind of refusal is the class; the API maps kinds to HTTP status codes in one table
(``ledger.interface.refusals``) and the slug to the problem type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class LedgerError(Exception):
    """Base of every refusal the ledger gives; never a bug, always the caller's to fix."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        rule: str | None = None,
        field: str | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail
        self.rule = rule
        self.field = field
        self.extra = dict(extra or {})

    def __str__(self) -> str:
        rule = f" ({self.rule})" if self.rule else ""
        return f"{self.slug}{rule}: {self.detail}"


class InvalidInputError(LedgerError):
    """Malformed input: a field that cannot be parsed or is out of range."""


class RuleRefusedError(LedgerError):
    """Well-formed input that a rule refuses."""


class IneligibleError(RuleRefusedError):
    """One or more chosen engagements are not eligible (R10, R11); reasons per engagement."""

    def __init__(self, reasons: Mapping[str, Sequence[str]], detail: str) -> None:
        super().__init__(
            "not-eligible",
            detail,
            rule="R11",
            field="engagement_ids",
            extra={"reasons": {k: list(v) for k, v in reasons.items()}},
        )


class ForbiddenError(LedgerError):
    """The principal lacks the role or location."""


class NotFoundError(LedgerError):
    """Unknown, or belongs to another partner: never reveal which."""


class ConflictError(LedgerError):
    """Conflict with the claim's state or another claim."""


class InvalidTransitionError(ConflictError):
    """The claim's state does not allow the action; names the state and what is allowed."""

    def __init__(self, action: str, state: str, allowed: Sequence[str], *, rule: str) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none (the claim is final)"
        super().__init__(
            "invalid-state-transition",
            f"cannot {action} a claim in state {state!r}; allowed actions: {allowed_text}",
            rule=rule,
            extra={"state": state, "allowed_actions": list(allowed)},
        )


class StaleVersionError(LedgerError):
    """The caller's expected version is not the claim's current version."""
