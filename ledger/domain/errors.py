"""Domain errors: each carries a stable slug, the rule it enforces and the offending field.

The kind of refusal is the class; the API maps kinds to HTTP status codes in one table
(``ledger.interface.refusals``) and the slug to the problem type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypedDict

from ledger.words.i18n import DEFAULT
from ledger.words.refusals import Term, Terms, Words


class FieldProblem(TypedDict):
    """One problem of the input as the API lists it (SPEC 6.1)."""

    field: str | None
    message: str
    rule: str | None


@dataclass(frozen=True)
class Problem:
    """One problem of the input: the field (its dotted path), the rule it breaks, and what to
    say about it (``ledger.words.refusals``)."""

    field: str | None
    rule: str | None
    words: Words

    def at(self, field: str) -> Problem:
        """The same problem, of the field at another path (an item of a list renumbered)."""
        return replace(self, field=field, words=replace(self.words, field=field))

    def listed(self, language: str = DEFAULT) -> FieldProblem:
        return {"field": self.field, "message": self.words.say(language), "rule": self.rule}


class LedgerError(Exception):
    """Base of every refusal the ledger gives; never a bug, always the caller's to fix.

    What it says is in the table of ``ledger.words.refusals``, keyed by its slug and field (or
    by ``words`` when given): ``detail`` is the English sentence, ``say(language)`` the same
    in another language. The problems of invalid input are ``problems``, each said alike
    (``extra["errors"]`` lists them in English)."""

    def __init__(
        self,
        slug: str,
        detail: str | None = None,
        *,
        rule: str | None = None,
        field: str | None = None,
        extra: dict[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        words: Words | None = None,
        problems: Sequence[Problem] = (),
    ) -> None:
        self.words = words or Words(slug, field, dict(params or {}))
        self.detail = self.words.say() if detail is None else detail
        super().__init__(self.detail)
        self.slug = slug
        self.rule = rule
        self.field = field
        self.problems = tuple(problems)
        self.extra = dict(extra or {})
        if self.problems:
            self.extra["errors"] = [p.listed() for p in self.problems]

    def say(self, language: str = DEFAULT) -> str:
        """What the refusal says, in ``language``."""
        return self.detail if language == DEFAULT else self.words.say(language)

    def listed(self, language: str = DEFAULT) -> list[FieldProblem]:
        """Its problems as the API lists them, in ``language``."""
        return [p.listed(language) for p in self.problems]

    def __str__(self) -> str:
        rule = f" ({self.rule})" if self.rule else ""
        return f"{self.slug}{rule}: {self.detail}"


class InvalidInputError(LedgerError):
    """Malformed input: a field that cannot be parsed or is out of range."""


class RuleRefusedError(LedgerError):
    """Well-formed input that a rule refuses."""


class IneligibleError(RuleRefusedError):
    """One or more chosen engagements are not eligible (R10, R11); reasons per engagement."""

    def __init__(
        self,
        reasons: Mapping[str, Sequence[str]],
        detail: str | None = None,
        *,
        words: Words | None = None,
    ) -> None:
        super().__init__(
            "not-eligible",
            detail,
            rule="R11",
            field="engagement_ids",
            extra={"reasons": {k: list(v) for k, v in reasons.items()}},
            words=words,
        )


class ForbiddenError(LedgerError):
    """The principal lacks the role or location."""


class NotFoundError(LedgerError):
    """Unknown, or belongs to another partner: never reveal which."""


class ConflictError(LedgerError):
    """Conflict with the claim's state or another claim."""


class InvalidTransitionError(ConflictError):
    """The claim's state does not allow the action; names the state and what is allowed."""

    def __init__(
        self,
        action: str,
        state: str,
        allowed: Sequence[str],
        *,
        rule: str,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """``labels``: what a person reads for the action and state codes (by code)."""
        name = dict(labels or {})
        next_words = (
            Words(
                "allowed-actions", params={"actions": Terms(tuple(name.get(a, a) for a in allowed))}
            )
            if allowed
            else Words("no-actions")
        )
        params = {
            "action": Term(name.get(action, action)),
            "state": Term(name.get(state, state)),
            "next": next_words,
        }
        super().__init__(
            "invalid-state-transition",
            rule=rule,
            params=params,
            extra={"state": state, "allowed_actions": list(allowed)},
        )


class StaleVersionError(LedgerError):
    """The caller's expected version is not the claim's current version."""


class TooLargeError(LedgerError):
    """An uploaded document larger than the service accepts."""


class UnsupportedMediaError(LedgerError):
    """An uploaded document of a type the service does not accept."""


class IdentityProviderUnavailableError(LedgerError):
    """The identity provider (its discovery document or its keys) did not answer: 503."""
