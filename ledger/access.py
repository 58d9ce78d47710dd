"""Signed bearer tokens naming the principal (SPEC section 6 and 8)."""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt

from ledger.principal import Principal, Role

ALGORITHM = "HS256"


class InvalidTokenError(Exception):
    """No usable bearer token: missing, malformed, forged, expired, or of another kind."""


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
                raise InvalidTokenError("not an access token")
            return Principal(
                user_id=str(payload["sub"]),
                partner_id=payload.get("partner"),
                roles=frozenset(Role(r) for r in payload["roles"]),
                locations=frozenset(str(loc) for loc in payload.get("locations") or []),
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("the token has expired") from None
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as error:
            raise InvalidTokenError(f"the token is not valid ({type(error).__name__})") from None
