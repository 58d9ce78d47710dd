"""OpenID Connect: the identity provider's published keys, and its tokens read as principals.

The provider's endpoints come from ``<issuer>/.well-known/openid-configuration`` (or
LEDGER_OIDC_JWKS_URL); its signing keys from its JWKS, through PyJWT's ``PyJWKClient``, kept
for a while. A token signed with a key the set does not hold refreshes the set, at most once
per LEDGER_OIDC_JWKS_REFRESH_SECONDS, so a flood of made-up ``kid``s never hammers the provider.
Expiry and not-before are checked against the app's clock (with LEDGER_OIDC_LEEWAY_SECONDS),
never the machine's. docs/identity-provider.md says how to set a provider up.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.error import HTTPError

import jwt

from ledger.domain.access import InvalidTokenError
from ledger.domain.errors import IdentityProviderUnavailableError
from ledger.domain.principal import PARTNER_ROLES, Principal, Role
from ledger.service.clock import Clock
from ledger.service.settings import Settings
from ledger.words.refusals import Words, names

log = logging.getLogger("ledger.oidc")
ALGORITHMS = ["RS256", "ES256"]
"""The signatures accepted: never ``none``, never HS256 (a public key is no shared secret)."""


class ProviderRefusedError(Exception):
    """The provider answered 400 or 401: it refused what it was asked (a code, a client)."""


def fetch_json(url: str, timeout: float, data: bytes | None = None, **headers: str) -> Any:
    """GET (or POST ``data``) ``url`` and read its JSON; a provider that does not answer, or
    answers with something else than JSON, is unavailable (503), never a 500."""
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except HTTPError as error:
        error.close()
        if error.code in (400, 401):
            raise ProviderRefusedError(f"{url}: {error.code}") from None
        log.warning("the identity provider answered %s at %s", error.code, url)
    except (OSError, ValueError) as error:
        log.warning("the identity provider did not answer at %s: %s", url, error)
    raise IdentityProviderUnavailableError("identity-provider-unavailable")


@dataclass(frozen=True)
class Endpoints:
    """Where the provider publishes its keys, and where a browser signs in and a code is
    exchanged (the last two only for web sign-in)."""

    jwks_uri: str
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None


class IdentityProvider:
    """The provider of LEDGER_OIDC_ISSUER: its endpoints (discovered once) and signing keys."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        assert settings.oidc_issuer is not None
        self.settings, self.clock = settings, clock
        self.issuer = settings.oidc_issuer
        self._lock = threading.RLock()
        self._endpoints: Endpoints | None = None
        self._keys: jwt.PyJWKClient | None = None
        self._last_refresh: datetime | None = None

    def endpoints(self) -> Endpoints:
        """The provider's discovery document, read on first use and kept."""
        with self._lock:
            if self._endpoints is None:
                self._endpoints = self._discover()
            return self._endpoints

    def _discover(self) -> Endpoints:
        found = fetch_json(
            self.issuer.rstrip("/") + "/.well-known/openid-configuration",
            self.settings.oidc_timeout_seconds,
        )
        if not isinstance(found, dict) or found.get("issuer", self.issuer) != self.issuer:
            raise IdentityProviderUnavailableError("identity-provider-unavailable")
        jwks_uri = self.settings.oidc_jwks_url or found.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise IdentityProviderUnavailableError("identity-provider-unavailable")
        return Endpoints(jwks_uri, found.get("authorization_endpoint"), found.get("token_endpoint"))

    def _client(self) -> jwt.PyJWKClient:
        if self._keys is None:
            jwks_uri = self.settings.oidc_jwks_url or self.endpoints().jwks_uri
            self._keys = jwt.PyJWKClient(
                jwks_uri,
                lifespan=self.settings.oidc_jwks_cache_seconds,
                timeout=self.settings.oidc_timeout_seconds,
                cooldown_duration=0,  # ours below, on the app's clock
            )
        return self._keys

    def signing_key(self, kid: str | None) -> jwt.PyJWK:
        """The published key ``kid``; an unknown one refreshes the set, at most once a while."""
        try:
            with self._lock:
                return self._find(kid)
        except jwt.PyJWKClientError as error:
            if "matches" in str(error):
                raise InvalidTokenError(Words("token-unknown-key"), str(error)) from None
            log.warning("the identity provider's keys cannot be read: %s", error)
            raise IdentityProviderUnavailableError("identity-provider-unavailable") from None
        except jwt.PyJWKSetError:
            raise IdentityProviderUnavailableError("identity-provider-unavailable") from None

    def _find(self, kid: str | None) -> jwt.PyJWK:
        client = self._client()
        found = client.match_kid(client.get_signing_keys(), kid) if kid else None
        if found is None and kid and self._may_refresh():
            self._last_refresh = self.clock()
            found = client.match_kid(client.get_signing_keys(refresh=True), kid)
        if found is None:
            raise InvalidTokenError(Words("token-unknown-key"), f"kid {kid!r}")
        return found

    def _may_refresh(self) -> bool:
        every = timedelta(seconds=self.settings.oidc_jwks_refresh_seconds)
        return self._last_refresh is None or self.clock() - self._last_refresh >= every


class OidcTokens:
    """The provider's tokens: verified (signature, issuer, audience, times) and read as the
    principal their claims name."""

    def __init__(self, provider: IdentityProvider, settings: Settings, clock: Clock) -> None:
        self.provider, self.settings, self.clock = provider, settings, clock

    def claims(self, token: str, audience: str) -> dict[str, Any]:
        """The claims of a token the provider signed for ``audience``, valid now."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in ALGORITHMS:
                raise InvalidTokenError(Words("token-invalid"), f"alg {header.get('alg')!r}")
            key = self.provider.signing_key(header.get("kid"))
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=audience,
                issuer=self.provider.issuer,
                # the times are checked below, against the app's clock, not the machine's
                options={
                    "require": ["exp", "iss", "aud"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidAudienceError:
            raise InvalidTokenError(Words("token-wrong-audience")) from None
        except jwt.InvalidIssuerError:
            raise InvalidTokenError(Words("token-wrong-issuer")) from None
        except jwt.PyJWTError as error:
            raise InvalidTokenError(Words("token-invalid"), type(error).__name__) from None
        self._check_times(claims)
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        """Expiry and not-before (or issued-at) against the app's clock, with the leeway."""
        now, leeway = self.clock().timestamp(), self.settings.oidc_leeway_seconds
        try:
            expires = float(claims["exp"])
            begins = float(claims.get("nbf", claims.get("iat", now)))  # issued in the future
        except (TypeError, ValueError):
            raise InvalidTokenError(Words("token-invalid"), "exp or nbf") from None
        if now > expires + leeway:
            raise InvalidTokenError(Words("token-expired"))
        if now + leeway < begins:
            raise InvalidTokenError(Words("token-not-yet-valid"))

    def principal(self, token: str, audience: str | None = None) -> Principal:
        """The principal of a bearer token (audience: LEDGER_OIDC_AUDIENCE)."""
        claims = self.claims(token, audience or self.settings.oidc_api_audience())
        return principal_of(claims, self.settings)


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested claims (``realm_access.roles``)."""
    found: Any = claims
    for part in path.split("."):
        found = found.get(part) if isinstance(found, Mapping) else None
    return found


def as_list(value: Any) -> list[str]:
    """A claim of several values: a JSON list, or one string of values split by spaces."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def principal_of(claims: Mapping[str, Any], settings: Settings) -> Principal:
    """The principal the claims name. Roles the ledger does not know are ignored (a provider
    sends its other applications' roles too); none left, or a partner role without a
    partner, is refused."""
    user = claim(claims, settings.oidc_user_claim)
    if not isinstance(user, str) or not user:
        raise InvalidTokenError(Words("token-no-user"))
    known = {r.value for r in Role}
    given = as_list(claim(claims, settings.oidc_roles_claim))
    roles = frozenset(Role(r) for r in given if r in known)
    if not roles:
        every = names([r.value for r in Role], "or")
        raise InvalidTokenError(Words("token-no-role", params={"roles": every}), user)
    partner = claim(claims, settings.oidc_partner_claim)
    partner = str(partner) if partner not in (None, "") else None
    if roles & PARTNER_ROLES and partner is None:
        raise InvalidTokenError(Words("token-no-partner"), user)
    locations = frozenset(as_list(claim(claims, settings.oidc_locations_claim)))
    return Principal(user_id=user, partner_id=partner, roles=roles, locations=locations)
