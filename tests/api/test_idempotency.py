"""Idempotency-Key (also after a restart), ETag and If-Match, read-your-writes."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from fastapi.responses import JSONResponse, Response

from api.idempotency import IdempotencyStore
from ledger.projections.store import ViewStore
from ledger.settings import Settings
from tests.api.conftest import Api, make_api
from tests.conftest import Clock
from tests.factories import ADMIN_A, create


def claim_body(**kwargs: Any) -> dict[str, Any]:
    return create(["E-WS"], **kwargs).model_dump(mode="json")


def test_same_key_and_body_answer_the_first_response_again(api: Api) -> None:
    key = {"Idempotency-Key": "create-fabrikam-1"}
    first = api.post("/v1/claims", claim_body(), headers=key)
    assert first.status_code == 201
    head = api.head()
    again = api.post("/v1/claims", claim_body(), headers=key)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert api.head() == head  # no new events


def test_same_key_other_body_is_422(api: Api) -> None:
    key = {"Idempotency-Key": "k-1"}
    assert api.post("/v1/claims", claim_body(), headers=key).status_code == 201
    other = api.post("/v1/claims", claim_body(name="Another name"), headers=key)
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")


def test_refusals_are_replayed_too_and_keys_belong_to_their_user(api: Api) -> None:
    key = {"Idempotency-Key": "k-2"}
    assert api.post("/v1/claims", claim_body(), headers=key).status_code == 201
    refused = api.post("/v1/claims", claim_body(), headers={"Idempotency-Key": "k-3"})
    assert refused.status_code == 409
    replayed = api.post("/v1/claims", claim_body(), headers={"Idempotency-Key": "k-3"})
    assert (replayed.status_code, replayed.json()) == (409, refused.json())
    assert replayed.headers["content-type"].startswith("application/problem+json")
    too_long = api.post("/v1/claims", claim_body(), headers={"Idempotency-Key": "x" * 201})
    assert too_long.json()["type"].endswith("/invalid-idempotency-key")


def test_keys_survive_a_restart(settings: Settings, clock: Clock) -> None:
    key = {"Idempotency-Key": "survives"}
    first_app = make_api(settings, clock)
    api = next(first_app)
    first = api.post("/v1/claims", claim_body(), headers=key)
    claim_id = first.json()["claims"][0]["claim_id"]
    consent = {"deal_size_usd": "10.00", "disclaimer_accepted": True}
    sent = api.post(
        f"/v1/claims/{claim_id}/consent-request", consent, headers={"Idempotency-Key": "c"}
    )
    first_app.close()

    restarted_app = make_api(settings, clock)
    restarted = next(restarted_app)
    head = restarted.head()
    again = restarted.post("/v1/claims", claim_body(), headers=key)
    assert (again.status_code, again.json()) == (201, first.json())
    resent = restarted.post(
        f"/v1/claims/{claim_id}/consent-request", consent, headers={"Idempotency-Key": "c"}
    )
    assert (resent.status_code, resent.json(), resent.headers["etag"]) == (
        200,
        sent.json(),
        sent.headers["etag"],
    )
    assert restarted.head() == head
    restarted_app.close()


def test_etag_and_if_match(api: Api) -> None:
    claim_id = api.post("/v1/claims", claim_body()).json()["claims"][0]["claim_id"]
    read = api.get(f"/v1/claims/{claim_id}")
    assert read.headers["etag"] == '"1"'
    consent = {"deal_size_usd": "10.00", "disclaimer_accepted": True}
    changed = api.post(
        f"/v1/claims/{claim_id}/consent-request",
        consent,
        headers={"If-Match": read.headers["etag"]},
    )
    assert changed.status_code == 200 and changed.headers["etag"] == '"2"'
    stale = api.post(
        f"/v1/claims/{claim_id}/cancellation", {}, headers={"If-Match": read.headers["etag"]}
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    weak = api.post(f"/v1/claims/{claim_id}/cancellation", {}, headers={"If-Match": 'W/"2"'})
    assert weak.status_code == 200
    garbage = api.post(f"/v1/claims/{claim_id}/cancellation", {}, headers={"If-Match": "abc"})
    assert garbage.status_code == 422


def test_a_read_after_a_write_sees_it(api: Api) -> None:
    created = api.post("/v1/claims", claim_body()).json()["claims"][0]
    listed = api.get("/v1/claims").json()["items"]
    assert [c["claim_id"] for c in listed] == [created["claim_id"]]
    tab = api.get("/v1/engagements/E-WS/customers").json()["items"]
    assert [i["claim_id"] for i in tab] == [created["claim_id"]]


def test_a_key_whose_request_died_is_given_up_after_a_while(api: Api) -> None:
    store: IdempotencyStore = api.app.state.idempotency
    with store.store.transaction(commit=True) as tx:  # a request that died while running
        tx.execute(
            "INSERT INTO idempotency_keys VALUES (?, 'died', 'x', 0, NULL, NULL, ?)",
            (ADMIN_A.user_id, "2020-01-01T00:00:00.000000Z"),
        )
    response = api.post("/v1/claims", claim_body(), headers={"Idempotency-Key": "died"})
    assert response.status_code == 201, response.text
    fingerprint = "create " + create(["E-WS"], name="Other").model_dump_json()
    with store.store.transaction(commit=True) as tx:  # and one that is still running
        tx.execute(
            "INSERT INTO idempotency_keys VALUES (?, 'running', ?, 0, NULL, NULL, ?)",
            (
                ADMIN_A.user_id,
                hashlib.sha256(fingerprint.encode()).hexdigest(),
                "2999-01-01T00:00:00.000000Z",
            ),
        )
    running = api.post(
        "/v1/claims", claim_body(name="Other"), headers={"Idempotency-Key": "running"}
    )
    assert running.status_code == 409, running.text
    assert running.json()["type"].endswith("/idempotency-key-in-use")


def test_an_abandoned_key_is_given_up_by_the_injected_clock(
    settings: Settings, clock: Clock
) -> None:
    store = ViewStore.open(settings.eventsourcing_env())
    keys = IdempotencyStore(store, clock=clock, abandoned_after=timedelta(minutes=10))
    answers: list[tuple[int, Any]] = []

    def retry() -> None:
        response = keys.run("ann", "k", "body", lambda: JSONResponse({"run": "retry"}, 201))
        answers.append((response.status_code, json.loads(bytes(response.body))))

    def first_request() -> Response:
        retry()  # while the first request runs, the key is in use
        clock.now += timedelta(minutes=9, seconds=59)
        retry()  # still in use: not yet abandoned by the test's clock
        clock.now += timedelta(seconds=2)
        retry()  # past abandoned_after: the retry runs the command itself
        return JSONResponse({"run": "first"}, 201)

    try:
        keys.run("ann", "k", "body", first_request)
        assert [status for status, _ in answers] == [409, 409, 201]
        assert answers[0][1]["type"].endswith("/idempotency-key-in-use")
        assert answers[2][1] == {"run": "retry"}
    finally:
        store.close()
