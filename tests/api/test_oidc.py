"""Bearer tokens from an OpenID Connect provider (SPEC 17): a local issuer (``tests.oidc_issuer``)
serves its discovery document and JWKS over HTTP; its tokens are accepted beside the ledger's
own, and refused, with the API's 401 problem and a reason a person can act on, when signed by an
unknown key, for another issuer or audience, expired, not yet valid, unsigned (``alg: none``),
HS256-signed with the public key, or without a role the ledger knows.

Times are the app's clock's (``clock``, 2026-03-02), months before the machine's: a token
issued then would be long expired if the machine's clock were asked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from ledger.service.settings import Settings
from testkit.pgcluster import free_port
from tests.api.client import Api, make_api
from tests.conftest import Clock
from tests.factories import ADMIN_A
from tests.oidc_issuer import Issuer, running_issuer

PROBLEM = "application/problem+json"
ANN = {"sub": "ann@a.example", "roles": ["incentives_admin"], "partner_id": "P-A"}
"""A partner admin of P-A (as ADMIN_A), as the provider's claims say it."""
REX = {"sub": "rex@programme.example", "roles": ["reviewer", "wiki-editor"]}
"""A reviewer, with a role of another application the ledger ignores."""


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with running_issuer() as running:
        yield running


def oidc_api(settings: Settings, issuer: Issuer, clock: Clock, **more: Any) -> Iterator[Api]:
    update = {"oidc_issuer": issuer.url, "oidc_audience": issuer.client_id, **more}
    yield from make_api(settings.model_copy(update=update), clock)


@pytest.fixture
def api(tmp_path: Path, issuer: Issuer, clock: Clock) -> Iterator[Api]:
    """The app on SQLite, trusting the local issuer."""
    yield from oidc_api(Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}"), issuer, clock)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def engagements(api: Api, token: str) -> Any:
    return api.client.get("/v1/engagements", headers=bearer(token))


def refused(response: Any, says: str) -> None:
    """The API's one 401 problem for a bad token, with its reason."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["type"].endswith("/unauthorized"), body
    assert says in body["detail"], body


def test_the_issuers_tokens_are_accepted_beside_the_ledgers_own(
    settings: Settings, issuer: Issuer, clock: Clock
) -> None:
    """On SQLite and on PostgreSQL: the provider's token names the principal its claims say
    (its roles decide, as a ``ledger token``'s do); the ledger's own tokens still work."""
    for api in oidc_api(settings, issuer, clock):
        assert engagements(api, issuer.token(ANN, clock.now)).status_code == 200
        assert api.get("/v1/engagements", ADMIN_A).status_code == 200
        reviewer = issuer.token(REX, clock.now)
        queue = api.client.get("/v1/review-queue", headers=bearer(reviewer))
        assert queue.status_code == 200, queue.text
        assert engagements(api, reviewer).status_code == 403  # a reviewer is not a partner


def test_es256_tokens_are_accepted(api: Api, issuer: Issuer, clock: Clock) -> None:
    issuer.new_key("ec1", alg="ES256")
    token = issuer.token(ANN, clock.now, kid="ec1")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert engagements(api, token).status_code == 200


def test_expiry_and_not_before_are_the_apps_clocks_with_a_leeway(
    api: Api, issuer: Issuer, clock: Clock
) -> None:
    """Issued at the app's time (months ago by the machine's): valid for an hour, and for the
    minute of leeway after; then expired. Not before a time: refused until the clock gets
    within the leeway of it."""
    token = issuer.token(ANN, clock.now, ttl=timedelta(hours=1))
    assert engagements(api, token).status_code == 200
    clock.now += timedelta(hours=1, seconds=30)
    assert engagements(api, token).status_code == 200
    clock.now += timedelta(seconds=60)
    refused(engagements(api, token), "The token has expired")
    later = issuer.token(ANN, clock.now, nbf=int((clock.now + timedelta(minutes=5)).timestamp()))
    refused(engagements(api, later), "The token is not valid yet")
    clock.now += timedelta(minutes=4, seconds=30)
    assert engagements(api, later).status_code == 200


def unsigned(issuer: Issuer, clock: Clock) -> str:
    """``alg: none``: the claims of a valid token, no signature."""
    claims = jwt.decode(issuer.token(ANN, clock.now), options={"verify_signature": False})
    return jwt.encode(claims, "", algorithm="none", headers={"kid": "k1"})


def hs256_with_public_key(issuer: Issuer, clock: Clock) -> str:
    """The algorithm confusion: HS256 keyed with the issuer's public key (PEM), which anyone
    can read from the JWKS."""
    public = issuer.keys["k1"].public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(issuer.token(ANN, clock.now), options={"verify_signature": False})

    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signed = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': 'k1'})}.{part(claims)}"
    mac = hmac.new(pem, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def unknown_key(issuer: Issuer, clock: Clock) -> str:
    issuer.new_key("rogue", publish=False)
    return issuer.token(ANN, clock.now, kid="rogue")


def forged_with_a_published_kid(issuer: Issuer, clock: Clock) -> str:
    """Signed with another key, its header naming the published one."""
    issuer.new_key("rogue", publish=False)
    token = issuer.token(ANN, clock.now, kid="rogue")
    head, body, signature = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    relabelled = base64.urlsafe_b64encode(json.dumps({**header, "kid": "k1"}).encode())
    return f"{relabelled.rstrip(b'=').decode()}.{body}.{signature}"


REFUSALS = {
    "forged with a published kid": (forged_with_a_published_kid, "The token is not valid"),
    "unknown key": (unknown_key, "signed with a key the identity provider does not publish"),
    "another issuer": (
        lambda i, c: i.token(ANN, c.now, iss="http://elsewhere.example"),
        "an identity provider this ledger does not trust",
    ),
    "another audience": (
        lambda i, c: i.token(ANN, c.now, aud="another-app"),
        "issued for another application",
    ),
    "expired": (
        lambda i, c: i.token(ANN, c.now - timedelta(hours=2)),
        "The token has expired: get a new one",
    ),
    "not yet valid": (
        lambda i, c: i.token(ANN, c.now + timedelta(hours=2)),
        "The token is not valid yet",
    ),
    "alg none": (unsigned, "The token is not valid"),
    "hs256 with the public key": (hs256_with_public_key, "The token is not valid"),
    "no role": (
        lambda i, c: i.token({"sub": "ann@a.example", "partner_id": "P-A"}, c.now),
        "Your account has none of the ledger's roles (Incentives admin,",
    ),
    "only unknown roles": (
        lambda i, c: i.token({**ANN, "roles": ["wiki-editor"]}, c.now),
        "ask your identity provider's administrator to give you one",
    ),
    "partner role without partner": (
        lambda i, c: i.token({"sub": "ann@a.example", "roles": ["incentives_admin"]}, c.now),
        "a partner role but no partner organisation",
    ),
    "no user": (
        lambda i, c: i.token({**ANN, "sub": ""}, c.now),
        "The token does not say who you are",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_bad_tokens_are_refused_with_a_reason(
    api: Api, issuer: Issuer, clock: Clock, case: str
) -> None:
    make, says = REFUSALS[case]
    refused(engagements(api, make(issuer, clock)), says)


def test_the_reason_is_said_in_the_readers_language(api: Api, issuer: Issuer, clock: Clock) -> None:
    token = issuer.token(ANN, clock.now, aud="another-app")
    answer = api.client.get(
        "/v1/engagements", headers={**bearer(token), "Accept-Language": "pt-BR"}
    )
    assert answer.status_code == 401
    assert "outro aplicativo" in answer.json()["detail"], answer.json()


def test_a_rotated_key_is_fetched_once_and_a_flood_of_unknown_keys_fetches_nothing(
    api: Api, issuer: Issuer, clock: Clock
) -> None:
    """The provider rotates: a token with the new ``kid`` is accepted after one refresh of the
    JWKS; then tokens naming made-up keys are refused without asking the provider again, until
    the refresh interval (a minute by default, on the app's clock) has passed."""
    assert engagements(api, issuer.token(ANN, clock.now)).status_code == 200
    assert issuer.jwks_hits == 1
    issuer.new_key("k2")
    issuer.withdraw("k1")
    assert engagements(api, issuer.token(ANN, clock.now, kid="k2")).status_code == 200
    assert issuer.jwks_hits == 2
    for n in range(30):
        issuer.new_key(f"made-up-{n}", publish=False)
        forged = issuer.token(ANN, clock.now, kid=f"made-up-{n}")
        refused(engagements(api, forged), "does not publish")
    assert issuer.jwks_hits == 2
    assert engagements(api, issuer.token(ANN, clock.now, kid="k2")).status_code == 200
    clock.now += timedelta(seconds=61)
    issuer.new_key("k3")
    assert engagements(api, issuer.token(ANN, clock.now, kid="k3")).status_code == 200
    assert issuer.jwks_hits == 3


def test_claim_names_are_configurable_and_may_reach_into_nested_claims(
    tmp_path: Path, issuer: Issuer, clock: Clock
) -> None:
    """As Keycloak says roles (``realm_access.roles``), with the user's e-mail as its name
    and the partner and locations under other names (a space-separated list works too)."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}")
    names = {
        "oidc_user_claim": "email",
        "oidc_roles_claim": "realm_access.roles",
        "oidc_partner_claim": "org",
        "oidc_locations_claim": "sites",
    }
    claims = {
        "sub": "f3a1c2",
        "email": "uma@a.example",
        "realm_access": {"roles": ["incentives_user", "offline_access"]},
        "org": "P-A",
        "sites": "LOC-A1 LOC-A2",
    }
    for api in oidc_api(settings, issuer, clock, **names):
        answer = engagements(api, issuer.token(claims, clock.now))
        assert answer.status_code == 200, answer.text
        refused(engagements(api, issuer.token(ANN, clock.now)), "The token does not say who")


def test_an_unreachable_jwks_is_a_503_problem_not_a_500(
    tmp_path: Path, issuer: Issuer, clock: Clock
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}")
    nowhere = f"http://127.0.0.1:{free_port()}/jwks"
    for api in oidc_api(settings, issuer, clock, oidc_jwks_url=nowhere):
        answer = engagements(api, issuer.token(ANN, clock.now))
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert answer.headers["retry-after"] == "5"
        assert "The identity provider did not answer" in answer.json()["detail"]
        assert api.get("/v1/engagements", ADMIN_A).status_code == 200  # `ledger token` works
