"""Web sign-in through the identity provider: the authorisation-code flow with PKCE (S256).

The browser is sent to the provider with a fresh ``state``, ``nonce`` and code challenge; what
the callback needs to check them (and the code verifier) travels in a short-lived cookie signed
with the ledger's key, so nothing is kept on the server before the person is signed in. The
callback exchanges the code at the provider's token endpoint and reads the ID token as a bearer
token is read (``ledger.runtime.oidc``), its nonce checked too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import jwt

from ledger.domain.access import InvalidTokenError
from ledger.domain.errors import IdentityProviderUnavailableError
from ledger.runtime.oidc import OidcTokens, ProviderRefusedError, fetch_json, principal_of
from ledger.runtime.sessions import SignedIn
from ledger.service.settings import Settings
from ledger.words.refusals import Words

CALLBACK = "/sign-in/provider/callback"
FLOW_TTL = timedelta(minutes=10)
"""How long a person may take at the provider before the sign-in must start again."""


@dataclass(frozen=True)
class Flow:
    """One sign-in under way: what the callback checks, and where the person goes after."""

    state: str
    nonce: str
    verifier: str
    next: str


def challenge(verifier: str) -> str:
    """The PKCE S256 challenge of a code verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SignInFlow:
    """Starts a sign-in at the provider and finishes it at the callback."""

    def __init__(self, tokens: OidcTokens, settings: Settings) -> None:
        assert settings.oidc_client_id is not None
        self.tokens, self.settings = tokens, settings
        self.client_id = settings.oidc_client_id
        self.key = settings.signing_key()

    @property
    def provider_name(self) -> str:
        """The name on the button: LEDGER_OIDC_PROVIDER_NAME, or the issuer's host."""
        issuer = self.tokens.provider.issuer
        return self.settings.oidc_provider_name or urlsplit(issuer).hostname or issuer

    @property
    def redirect_uri(self) -> str:
        return self.settings.public_url.rstrip("/") + CALLBACK

    def begin(self, next_path: str, now: datetime) -> tuple[str, str]:
        """The provider's sign-in address for a new flow, and the flow's signed cookie."""
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        flow = Flow(state, nonce, verifier, next_path)
        endpoint = self.tokens.provider.endpoints().authorization_endpoint
        if endpoint is None:
            raise IdentityProviderUnavailableError("identity-provider-unavailable")
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.settings.oidc_scopes,
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": challenge(flow.verifier),
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(query)}", self._seal(flow, now)

    def _seal(self, flow: Flow, now: datetime) -> str:
        payload = {**flow.__dict__, "typ": "oidc-flow", "exp": int((now + FLOW_TTL).timestamp())}
        return jwt.encode(payload, self.key, algorithm="HS256")

    def opened(self, cookie: str | None, now: datetime) -> Flow:
        """The flow of the browser's cookie: signed by us, of this kind, not expired."""
        try:
            found = jwt.decode(
                cookie or "", self.key, algorithms=["HS256"], options={"verify_exp": False}
            )
            if found.get("typ") != "oidc-flow" or now.timestamp() > float(found["exp"]):
                raise ValueError("not a flow, or an old one")
            return Flow(found["state"], found["nonce"], found["verifier"], found["next"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            raise InvalidTokenError(Words("sign-in-flow-invalid"), "flow cookie") from None

    def finish(self, cookie: str | None, state: str, code: str, now: datetime) -> SignedIn:
        """The session the callback starts: its state the flow's, its code exchanged for an
        ID token for us, with the flow's nonce."""
        flow = self.opened(cookie, now)
        if not hmac.compare_digest(flow.state.encode(), state.encode()):
            raise InvalidTokenError(Words("sign-in-flow-invalid"), "state")
        claims = self.tokens.claims(self._exchange(code, flow.verifier), self.client_id)
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), flow.nonce.encode()):
            raise InvalidTokenError(Words("sign-in-flow-invalid"), "nonce")
        expires = datetime.fromtimestamp(float(claims["exp"]), UTC)
        return SignedIn(principal_of(claims, self.settings), expires)

    def _exchange(self, code: str, verifier: str) -> str:
        """The ID token for ``code`` from the token endpoint; a refusal there is the
        person's to retry, a provider that does not answer a 503."""
        endpoint = self.tokens.provider.endpoints().token_endpoint
        if endpoint is None:
            raise IdentityProviderUnavailableError("identity-provider-unavailable")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": verifier,
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.settings.oidc_client_secret:
            pair = f"{self.client_id}:{self.settings.oidc_client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        try:
            answer = fetch_json(
                endpoint, self.settings.oidc_timeout_seconds, urlencode(form).encode(), **headers
            )
        except ProviderRefusedError as error:
            raise InvalidTokenError(Words("sign-in-provider-refused"), str(error)) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
            raise InvalidTokenError(Words("sign-in-provider-refused"), "no id_token")
        return str(answer["id_token"])
