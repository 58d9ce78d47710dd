"""Access: the bearer tokens naming the principal, and who may see and do what."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

import jwt

from ledger.aggregates.claim import (
    ALLOWED_ACTIONS,
    PARTNER_ACTIONS,
    REVIEW_ACTIONS,
    Action,
    ClaimState,
)
from ledger.domain.catalog import Catalog, Engagement, Partner
from ledger.domain.errors import ForbiddenError, InvalidInputError, NotFoundError, RuleRefusedError
from ledger.domain.principal import Principal, Role
from ledger.words.i18n import DEFAULT
from ledger.words.refusals import Words

ALGORITHM = "HS256"


class InvalidTokenError(Exception):
    """No usable bearer token: missing, malformed, forged, expired, or of another kind.

    ``words`` is what it says (``ledger.words.refusals``: ``token-missing``, ``token-expired``,
    ``token-invalid``, ``token-not-access``); ``cause``, for the log only, what the token
    library said."""

    def __init__(self, words: Words, cause: str | None = None) -> None:
        self.words = words
        self.cause = cause
        super().__init__(self.words.say())

    def say(self, language: str = DEFAULT) -> str:
        return self.words.say(language)


class AccessTokens:
    def __init__(self, secret: str) -> None:
        self.secret = secret

    def mint(self, principal: Principal, ttl: timedelta, now: datetime) -> str:
        """A token for ``principal``, issued at ``now`` and valid for ``ttl``."""
        issued = now
        payload = {
            "typ": "access",
            "sub": principal.user_id,
            "partner": principal.partner_id,
            "roles": sorted(r.value for r in principal.roles),
            "locations": sorted(principal.locations),
            "iat": int(issued.timestamp()),
            "exp": int((issued + ttl).timestamp()),
        }
        return jwt.encode(payload, self.secret, algorithm=ALGORITHM)

    def principal(self, token: str) -> Principal:
        try:
            payload = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "sub", "typ", "roles"]},
            )
            if payload["typ"] != "access":
                raise InvalidTokenError(Words("token-not-access"))
            return Principal(
                user_id=str(payload["sub"]),
                partner_id=payload.get("partner"),
                roles=frozenset(Role(r) for r in payload["roles"]),
                locations=frozenset(str(loc) for loc in payload.get("locations") or []),
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError(Words("token-expired")) from None
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as error:
            raise InvalidTokenError(Words("token-invalid"), type(error).__name__) from None


# -- who may see and do what: the one place each access rule is written ----------------------


class Purpose(StrEnum):
    """Why a claim is reached: each purpose has its own circle of readers."""

    READ = "read"  # claim details: its partner, reviewers, auditors
    HISTORY = "history"  # the audit trail: its partner, auditors
    ACT = "act"  # a partner command: its partner only, at a location the user may use


def partner_of(catalog: Catalog, principal: Principal) -> Partner:
    """The principal's partner; 403 without a partner role or for an unknown partner (R1)."""
    partner_id = principal.require_partner_role()
    partner = catalog.partner(partner_id)
    if partner is None:
        raise ForbiddenError("unknown-partner", params={"partner": partner_id})
    return partner


def usable_locations(principal: Principal, partner: Partner) -> list[str]:
    """The partner's locations the principal may act for, in catalog order (R1)."""
    return [loc.id for loc in partner.locations if principal.may_use_location(loc.id)]


def eligible_locations(principal: Principal, partner: Partner, engagement: Engagement) -> list[str]:
    """The engagement's eligible locations that the principal may act for (R1, R2)."""
    mine = set(usable_locations(principal, partner))
    return [loc for loc in engagement.eligible_locations if loc in mine]


def location_for_claims(principal: Principal, partner: Partner, location_id: str) -> str:
    """A location new claims may be made through: the partner's, allowed, enrolled (R1, R2)."""
    location = partner.location(location_id)
    if location is None:
        raise RuleRefusedError(
            "location-not-found",
            rule="R2",
            field="location_id",
            params={"location": location_id[:100]},
        )
    if not principal.may_use_location(location.id):
        raise ForbiddenError("location-not-allowed", rule="R1", params={"location": location.id})
    if not location.enrolled:
        raise RuleRefusedError(
            "location-not-enrolled",
            rule="R2",
            field="location_id",
            params={"location": location.id},
        )
    return location.id


def engagement(catalog: Catalog, engagement_id: str) -> Engagement:
    """An engagement named in a path; 404 when the catalog has none by that id."""
    found = catalog.engagement(engagement_id)
    if found is None:
        raise NotFoundError("engagement-not-found", params={"engagement": engagement_id[:100]})
    return found


def partner_as_of(principal: Principal, partner_id: str | None) -> tuple[str, bool]:
    """Whose Customers page a read as of a time shows, and whether at every location: an
    auditor names any partner (``partner_id``), at every location; a partner role reads its
    own, at its locations (R1), and may not name another partner (403)."""
    if principal.is_partner_user and partner_id in (None, principal.partner_id):
        return principal.require_partner_role(), False
    if Role.AUDITOR not in principal.roles:
        if partner_id is None:
            principal.require_partner_role()
        principal.require_role(Role.AUDITOR)
    if partner_id is None:
        raise InvalidInputError("partner-required", field="partner_id")
    return partner_id, True


def sees_every_partner(principal: Principal) -> bool:
    """An auditor without a partner role of its own: its lists show every partner's claims."""
    return Role.AUDITOR in principal.roles and not principal.is_partner_user


def claims_of(principal: Principal, partner_id: str | None) -> str | None:
    """Whose claims a list shows: a partner role its own (R1); an auditor every partner's,
    or the one named (``partner_id``). A partner role naming another partner is 403."""
    if principal.is_partner_user and partner_id in (None, principal.partner_id):
        return principal.require_partner_role()
    if Role.AUDITOR not in principal.roles:
        principal.require_partner_role()
        principal.require_role(Role.AUDITOR)
    return partner_id


def authorize_claim(
    principal: Principal,
    claim_id: UUID,
    partner_id: str,
    location_id: str,
    purpose: Purpose = Purpose.ACT,
) -> None:
    """Whether the principal may reach this claim for ``purpose``.

    Another partner's claim is not found (never reveal that it exists); a claim of one's own
    partner at a location one may not use is forbidden (R1).
    """
    if purpose is Purpose.READ and principal.roles & {Role.REVIEWER, Role.AUDITOR}:
        return
    if purpose is Purpose.HISTORY and Role.AUDITOR in principal.roles:
        return
    if partner_id != principal.require_partner_role():
        raise NotFoundError("claim-not-found", params={"claim": claim_id})
    if not principal.may_use_location(location_id):
        raise ForbiddenError("location-not-allowed", rule="R1", params={"location": location_id})


def may_open_referrals(principal: Principal) -> bool:
    """Only referral admins open a referral; others see that a claim has one (R41)."""
    return Role.REFERRAL_ADMIN in principal.roles


def allowed_commands(
    principal: Principal, state: ClaimState, partner_id: str, location_id: str
) -> tuple[Action, ...]:
    """What the principal may do to a claim now: the state's actions that are its role's."""
    allowed = ALLOWED_ACTIONS.get(state, ())
    mine: list[Action] = []
    if (
        principal.is_partner_user
        and principal.partner_id == partner_id
        and principal.may_use_location(location_id)
    ):
        mine += [a for a in allowed if a in PARTNER_ACTIONS]
    if Role.REVIEWER in principal.roles:
        mine += [a for a in allowed if a in REVIEW_ACTIONS]
    return tuple(mine)
