"""The acting principal passed into every command: who, for which partner, what roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ledger.aggregates.base import Actor, ActorKind
from ledger.domain.errors import ForbiddenError
from ledger.words.refusals import named, names


class Role(StrEnum):
    INCENTIVES_ADMIN = "incentives_admin"
    INCENTIVES_USER = "incentives_user"
    REFERRAL_ADMIN = "referral_admin"
    REVIEWER = "reviewer"
    SELLER = "seller"
    AUDITOR = "auditor"


PARTNER_ROLES = frozenset({Role.INCENTIVES_ADMIN, Role.INCENTIVES_USER})
ROLE_RULES = {Role.REVIEWER: "R32", Role.REFERRAL_ADMIN: "R41", Role.SELLER: "R42"}
"""The rule that gives each programme role what it may do."""


@dataclass(frozen=True)
class Principal:
    user_id: str
    partner_id: str | None = None
    roles: frozenset[Role] = frozenset()
    locations: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> Actor:
        return Actor(
            kind=ActorKind.USER,
            id=self.user_id,
            partner_id=self.partner_id,
            roles=tuple(sorted(r.value for r in self.roles)),
        )

    @property
    def is_partner_user(self) -> bool:
        return self.partner_id is not None and bool(self.roles & PARTNER_ROLES)

    def location_scope(self) -> frozenset[str] | None:
        """The locations this principal acts for: None for every location of its partner
        (admins), the ones named for users, none for other roles (R1)."""
        if Role.INCENTIVES_ADMIN in self.roles:
            return None
        return self.locations if Role.INCENTIVES_USER in self.roles else frozenset()

    def may_use_location(self, location_id: str) -> bool:
        scope = self.location_scope()
        return scope is None or location_id in scope

    def require_partner_role(self) -> str:
        """The principal's partner id, or ForbiddenError when it holds no partner role (R1)."""
        if not self.is_partner_user or self.partner_id is None:
            raise ForbiddenError(
                "role-required",
                rule="R1",
                params={"role": names([r.value for r in sorted(PARTNER_ROLES)], "or")},
            )
        return self.partner_id

    def require_role(self, role: Role) -> None:
        """403, naming the rule that gives the role its right, when the principal lacks it."""
        if role not in self.roles:
            raise ForbiddenError(
                "role-required", rule=ROLE_RULES.get(role), params={"role": named(role.value)}
            )
