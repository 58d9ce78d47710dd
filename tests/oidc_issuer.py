"""A local OpenID Connect issuer for the tests: a small HTTP server in a thread that serves its
discovery document, its JWKS (keys that can be added and withdrawn during a test), and, for
web sign-in, ``/authorize`` (which redirects straight back with a code, as a provider does
once the person agrees) and ``/token`` (which checks the PKCE verifier, as a provider must)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ledger.service.clock import utc_now
from testkit.pgcluster import free_port

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class Issuer:
    """The issuer's state: its keys (published or not), what it was asked, and who signs in."""

    url: str
    client_id: str = "claim-ledger"
    keys: dict[str, PrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    jwks_hits: int = 0
    user: dict[str, Any] = field(default_factory=dict)
    """The claims of the person who signs in at ``/authorize`` next."""
    now: datetime | None = None
    """The issuer's clock for the ID tokens of ``/token`` (the real time when None)."""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    exchanges: list[dict[str, str]] = field(default_factory=list)

    def new_key(self, kid: str, alg: str = "RS256", publish: bool = True) -> str:
        """A new signing key (RSA for RS256, P-256 for ES256), published in the JWKS."""
        key: PrivateKey = (
            ec.generate_private_key(ec.SECP256R1())
            if alg == "ES256"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        self.keys[kid] = key
        if publish:
            self.published.append(kid)
        return kid

    def withdraw(self, kid: str) -> None:
        self.published.remove(kid)

    def jwks(self) -> dict[str, Any]:
        found = []
        for kid in self.published:
            key = self.keys[kid]
            if isinstance(key, ec.EllipticCurvePrivateKey):
                jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
                jwk.update(alg="ES256")
            else:
                jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
                jwk.update(alg="RS256")
            found.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": found}

    def token(
        self,
        claims: Mapping[str, Any],
        now: datetime,
        kid: str | None = None,
        ttl: timedelta = timedelta(hours=1),
        **overrides: Any,
    ) -> str:
        """A token signed with key ``kid`` (the first published), issued at ``now``."""
        kid = kid or self.published[0]
        key = self.keys[kid]
        alg = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
        payload = {
            "iss": self.url,
            "aud": self.client_id,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            **claims,
            **overrides,
        }
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})

    def discovery(self) -> dict[str, str]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks",
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
        }

    def authorize(self, query: Mapping[str, str]) -> str:
        """Where ``/authorize`` sends the browser back: the redirect URI with a code."""
        code = secrets.token_urlsafe(16)
        self.codes[code] = dict(query)
        back = {"code": code, "state": query.get("state", "")}
        return f"{query['redirect_uri']}?{urlencode(back)}"

    def exchange(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """``/token``: the ID token for a code, when the verifier fits its challenge."""
        self.exchanges.append(dict(form))
        asked = self.codes.get(form.get("code", ""))
        if asked is None or form.get("redirect_uri") != asked["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if asked.get("code_challenge_method") != "S256" or challenge != asked["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier"}
        del self.codes[form["code"]]  # spent: a code works once
        claims = {"nonce": asked.get("nonce"), **self.user}  # a test may say another nonce
        id_token = self.token(claims, self.now or utc_now())
        return 200, {"id_token": id_token, "access_token": "opaque", "token_type": "Bearer"}


def _handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests say what matters."""

        def _send(self, status: int, body: Any = None, location: str | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path, query = urlsplit(self.path).path, urlsplit(self.path).query
            if path == "/.well-known/openid-configuration":
                self._send(200, issuer.discovery())
            elif path == "/jwks":
                issuer.jwks_hits += 1
                self._send(200, issuer.jwks())
            elif path == "/authorize":
                asked = {k: v[0] for k, v in parse_qs(query).items()}
                self._send(302, location=issuer.authorize(asked))
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path != "/token":
                self._send(404, {"error": "not found"})
                return
            status, body = issuer.exchange(form)
            self._send(status, body)

    return Handler


@contextmanager
def running_issuer() -> Iterator[Issuer]:
    """The issuer on a free loopback port, with one RSA key (``k1``) published."""
    port = free_port()
    issuer = Issuer(f"http://127.0.0.1:{port}")
    issuer.new_key("k1")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(issuer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
