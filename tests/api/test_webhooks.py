"""The webhooks' endpoints, every status code: 201 (with the secret, once), 200, 204, 401,
403 (not the partner's incentives admin), 404 (another partner's subscription), 422 (an
address the ledger may not call, in words; an unknown event type), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from ledger.domain.principal import Principal
from ledger.service.settings import Settings
from testkit.pgcluster import free_port
from tests.api.client import Api, make_api
from tests.api.helpers import assert_problem, new_claim
from tests.conftest import Clock
from tests.factories import ADMIN_A, ADMIN_B, AUDITOR, REVIEWER, USER_A1

PATH = "/v1/webhooks"


@pytest.fixture
def hooks_api(settings: Settings, clock: Clock) -> Iterator[Api]:
    """The app with loopback targets allowed (LEDGER_WEBHOOKS_ALLOW_INSECURE=1)."""
    allowed = settings.model_copy(update={"webhooks_allow_insecure": True})
    yield from make_api(allowed, clock)


def subscribe(
    api: Api, principal: Principal = ADMIN_A, headers: dict[str, str] | None = None, **body: Any
) -> Any:
    payload = {"url": f"http://127.0.0.1:{free_port()}/hooks", "events": ["*"], **body}
    return api.post(PATH, payload, principal, headers=headers or {})


def delete(api: Api, path: str, principal: Principal | None = ADMIN_A) -> Any:
    return api.client.delete(path, headers=api.auth(principal) if principal else {})


def test_an_incentives_admin_subscribes_lists_and_deletes(hooks_api: Api) -> None:
    made = subscribe(hooks_api, events=["ConsentGiven", "Approved"])
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["secret"].startswith("whsec_") and created["status"] == "active"
    assert created["events"] == ["Approved", "ConsentGiven"]
    listed = hooks_api.get(PATH)
    assert listed.status_code == 200
    (shown,) = listed.json()
    assert shown["id"] == created["id"] and "secret" not in shown
    assert hooks_api.get(PATH, ADMIN_B).json() == []  # another partner's are not listed
    gone = delete(hooks_api, f"{PATH}/{created['id']}")
    assert gone.status_code == 204 and hooks_api.get(PATH).json() == []
    assert_problem(delete(hooks_api, f"{PATH}/{created['id']}"), 404, "webhook-not-found")


def test_without_a_token_401_and_other_roles_403(hooks_api: Api) -> None:
    made = subscribe(hooks_api).json()
    base = f"{PATH}/{made['id']}"
    assert_problem(hooks_api.client.get(PATH), 401, "unauthorized")
    assert_problem(hooks_api.client.post(PATH, json={}), 401, "unauthorized")
    assert_problem(delete(hooks_api, base, None), 401, "unauthorized")
    for principal in (USER_A1, REVIEWER, AUDITOR):
        assert_problem(hooks_api.get(PATH, principal), 403, "role-required")
        assert_problem(subscribe(hooks_api, principal), 403, "role-required")
        assert_problem(hooks_api.get(f"{base}/deliveries", principal), 403, "role-required")
        assert_problem(delete(hooks_api, base, principal), 403, "role-required")


def test_another_partners_subscription_is_not_found(hooks_api: Api) -> None:
    made = subscribe(hooks_api).json()
    base = f"{PATH}/{made['id']}"
    assert_problem(delete(hooks_api, base, ADMIN_B), 404, "webhook-not-found")
    assert_problem(hooks_api.get(f"{base}/deliveries", ADMIN_B), 404, "webhook-not-found")
    retry = hooks_api.post(f"{base}/deliveries/x/retry", principal=ADMIN_B)
    assert_problem(retry, 404, "webhook-not-found")
    assert_problem(hooks_api.get(f"{PATH}/no-such-id/deliveries"), 404, "webhook-not-found")
    assert delete(hooks_api, base).status_code == 204  # still there for its own partner


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("http://hooks.example.com/ledger", "webhook-url-not-https"),
        ("https://127.0.0.1/hooks", "webhook-url-private"),
        ("https://[::1]/hooks", "webhook-url-private"),
        ("https://10.0.0.1/hooks", "webhook-url-private"),
        ("https://169.254.169.254/latest", "webhook-url-private"),
        ("https://localhost/hooks", "webhook-url-private"),
    ],
)
def test_an_address_the_ledger_may_not_call_is_422_in_words(api: Api, url: str, slug: str) -> None:
    refused = subscribe(api, url=url)
    assert_problem(refused, 422, slug)
    assert refused.json()["field"] == "url"
    said = subscribe(api, url=url, headers={"Accept-Language": "pt-BR"}).json()
    assert said["type"] == refused.json()["type"]
    assert said["detail"] != refused.json()["detail"] and slug not in said["detail"]
    assert api.get(PATH).json() == []


def test_unknown_event_types_and_bad_bodies_are_422(hooks_api: Api) -> None:
    unknown = subscribe(hooks_api, events=["Approved", "Exploded"])
    assert_problem(unknown, 422, "webhook-event-unknown")
    assert "Exploded" in unknown.json()["detail"]
    assert subscribe(hooks_api, events=[]).status_code == 422
    assert subscribe(hooks_api, secret="mine").status_code == 422
    assert_problem(subscribe(hooks_api, url="not a url"), 422, "webhook-url-invalid")


def test_the_delivery_log_and_a_retry_of_a_failed_delivery(hooks_api: Api, clock: Clock) -> None:
    made = subscribe(hooks_api).json()  # nothing listens on its port: every attempt fails
    new_claim(hooks_api)
    worker = hooks_api.services.workers.webhooks
    base = f"{PATH}/{made['id']}/deliveries"
    for _ in range(200):
        worker.run_once()
        clock.now += timedelta(hours=1)
        if all(d["status"] == "failed" for d in hooks_api.get(base).json()):
            break
    listed = hooks_api.get(base)
    assert listed.status_code == 200
    (failed,) = listed.json()
    assert failed["type"] == "Added" and failed["status"] == "failed"
    assert failed["attempts"] > 1 and failed["last_error"] == "unreachable"
    assert failed["next_attempt_at"] is None
    retried = hooks_api.post(f"{base}/{failed['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert (
        retried.json()["status"] == "retrying" and retried.json()["event_id"] == failed["event_id"]
    )
    assert hooks_api.get(PATH).json()[0]["status"] == "active"  # enabled again by the retry
    assert_problem(
        hooks_api.post(f"{base}/no-such-delivery/retry"), 404, "webhook-delivery-not-found"
    )


def test_an_idempotency_key_makes_one_subscription(hooks_api: Api) -> None:
    body = {"url": f"http://127.0.0.1:{free_port()}/hooks", "events": ["*"]}
    key = {"Idempotency-Key": "hook-1"}
    first = hooks_api.post(PATH, body, headers=key)
    again = hooks_api.post(PATH, body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()  # the same id and secret
    assert len(hooks_api.get(PATH).json()) == 1
    other = hooks_api.post(PATH, {**body, "events": ["Approved"]}, headers=key)
    assert_problem(other, 422, "idempotency-key-reused")
