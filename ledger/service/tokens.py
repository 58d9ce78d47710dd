"""Signed, single-use consent links (R23, R24): a JWT naming the claim and the link."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import jwt

from ledger.domain.access import ALGORITHM
from ledger.domain.errors import ConflictError, NotFoundError


class ConsentTokens:
    """Issues and reads consent tokens; expiry is checked against the caller's ``now``."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def issue(self, claim_id: UUID, link_id: UUID, expires_at: datetime) -> str:
        payload = {
            "typ": "consent",
            "sub": str(claim_id),
            "lnk": str(link_id),
            "exp": int(expires_at.timestamp()),
        }
        return jwt.encode(payload, self.secret, algorithm=ALGORITHM)

    def read(self, token: str, now: datetime) -> tuple[UUID, UUID]:
        """The claim and link a token names; refused when forged, malformed or expired."""
        claim_id, link_id, expires_at = self.names(token)
        if now >= expires_at:
            raise ConflictError("consent-link-expired", rule="R23")
        return claim_id, link_id

    def names(self, token: str) -> tuple[UUID, UUID, datetime]:
        """The claim, link and expiry a token names, expired or not; refused when forged or
        malformed (what was answered through a link stays true after it expires)."""
        try:
            payload = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                options={"verify_exp": False, "require": ["exp", "sub", "lnk", "typ"]},
            )
            if payload["typ"] != "consent":
                raise ValueError("not a consent token")
            claim_id, link_id = UUID(payload["sub"]), UUID(payload["lnk"])
            expires_at = datetime.fromtimestamp(int(payload["exp"]), UTC)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            raise NotFoundError("consent-link-invalid", rule="R23") from None
        return claim_id, link_id, expires_at
