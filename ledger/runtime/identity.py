"""The bearer tokens the ledger accepts: its own (``ledger token``, for development and
scripts) and, when LEDGER_OIDC_ISSUER is set, the identity provider's (``ledger.runtime.oidc``).
A token that names an issuer is the provider's; one that names none is the ledger's own.
With LEDGER_OIDC_CLIENT_ID too, the page's sign-in through the provider (``oidc_flow``)."""

from __future__ import annotations

import jwt

from ledger.domain.access import AccessTokens
from ledger.domain.principal import Principal
from ledger.runtime.oidc import IdentityProvider, OidcTokens
from ledger.runtime.oidc_flow import SignInFlow
from ledger.service.clock import Clock
from ledger.service.settings import Settings


class BearerTokens:
    """Reads a bearer token as its principal, whoever issued it."""

    def __init__(
        self, own: AccessTokens, oidc: OidcTokens | None = None, flow: SignInFlow | None = None
    ) -> None:
        self.own = own
        self.oidc = oidc
        self.flow = flow
        """The provider's web sign-in, when LEDGER_OIDC_CLIENT_ID is set."""

    @classmethod
    def configured(cls, settings: Settings, clock: Clock) -> BearerTokens:
        own = AccessTokens(settings.signing_key())
        if settings.oidc_issuer is None:
            return cls(own)
        settings.oidc_api_audience()  # refused at start-up when neither is set
        oidc = OidcTokens(IdentityProvider(settings, clock), settings, clock)
        flow = SignInFlow(oidc, settings) if settings.oidc_client_id else None
        return cls(own, oidc, flow)

    def principal(self, token: str) -> Principal:
        if self.oidc is not None and names_an_issuer(token):
            return self.oidc.principal(token)
        return self.own.principal(token)


def names_an_issuer(token: str) -> bool:
    """Whether the (unverified) token says who issued it: the provider's tokens always do."""
    try:
        return "iss" in jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
