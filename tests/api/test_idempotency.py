"""Idempotency-Key (also after a restart), ETag and If-Match, read-your-writes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ledger.domain.principal import Principal
from ledger.service.settings import Settings
from tests.api.client import Api, make_api
from tests.conftest import Clock
from tests.factories import ADMIN_A, ADMIN_B, NORTHWIND, create


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


def test_a_refusal_records_nothing_and_keys_belong_to_their_user(api: Api) -> None:
    key = {"Idempotency-Key": "k-2"}
    assert api.post("/v1/claims", claim_body(), headers=key).status_code == 201
    head = api.head()
    refused = api.post("/v1/claims", claim_body(), headers={"Idempotency-Key": "k-3"})
    assert refused.status_code == 409
    again = api.post("/v1/claims", claim_body(), headers={"Idempotency-Key": "k-3"})
    assert (again.status_code, again.json()) == (409, refused.json())  # ran again, alike
    assert "idempotent-replayed" not in again.headers
    assert api.head() == head
    for bad in ("x" * 201, "a\x01b", "tab\there"):
        refused = api.post("/v1/claims", claim_body(), headers={"Idempotency-Key": bad})
        assert refused.json()["type"].endswith("/invalid-idempotency-key"), bad
    other_user = api.post(
        "/v1/claims",
        claim_body(location="LOC-B1", value=NORTHWIND, customer_email="it@northwind.com"),
        principal=ADMIN_B,
        headers=key,
    )  # the same key, another user: a request of its own
    assert other_user.status_code == 201, other_user.text


def test_a_create_is_replayed_after_the_customer_became_known(api: Api) -> None:
    """The retry of a create answers its claim even when creating it again would now be
    refused (the customer consented since: R15 wants origin "claimed")."""
    key = {"Idempotency-Key": "create-then-consent"}
    first = api.post("/v1/claims", claim_body(), headers=key)
    claim_id = first.json()["claims"][0]["claim_id"]
    consent = {"deal_size_usd": "10.00", "disclaimer_accepted": True}
    assert api.post(f"/v1/claims/{claim_id}/consent-request", consent).status_code == 200
    token = api.consent_token(claim_id)
    assert api.post(f"/v1/consent/{token}", {"decision": "accept"}, None).status_code == 200
    head = api.head()
    again = api.post("/v1/claims", claim_body(), headers=key)
    assert (again.status_code, again.headers["location"]) == (201, first.headers["location"])
    assert again.headers["idempotent-replayed"] == "true"
    assert api.head() == head


def test_a_replay_answers_the_first_answer_whatever_happened_since(api: Api) -> None:
    """The consent request's retry, after the customer accepted through its link, answers
    the claim as that request left it (awaiting consent, its ETag), not as it is now."""
    claim_id = api.post("/v1/claims", claim_body()).json()["claims"][0]["claim_id"]
    path = f"/v1/claims/{claim_id}/consent-request"
    consent = {"deal_size_usd": "10.00", "disclaimer_accepted": True}
    key = {"Idempotency-Key": "ask-once"}
    first = api.post(path, consent, headers=key)
    assert (first.status_code, first.json()["state"]) == (200, "awaiting_consent")
    remind_key = {"Idempotency-Key": "remind-once"}
    reminded = api.post(f"/v1/claims/{claim_id}/consent-reminder", headers=remind_key)
    assert reminded.status_code == 200, reminded.text
    token = api.consent_token(claim_id)
    assert api.post(f"/v1/consent/{token}", {"decision": "accept"}, None).status_code == 200
    for earlier, again in (
        (first, api.post(path, consent, headers=key)),
        (reminded, api.post(f"/v1/claims/{claim_id}/consent-reminder", headers=remind_key)),
    ):
        assert again.headers["idempotent-replayed"] == "true"
        assert (again.json(), again.headers["etag"]) == (earlier.json(), earlier.headers["etag"])
    assert api.get(f"/v1/claims/{claim_id}").json()["state"] == "consent_received"


def test_a_key_of_one_command_is_refused_on_another(api: Api) -> None:
    created = api.post("/v1/claims", claim_body(), headers={"Idempotency-Key": "once"})
    claim_id = created.json()["claims"][0]["claim_id"]
    cancel = api.post(
        f"/v1/claims/{claim_id}/cancellation", {}, headers={"Idempotency-Key": "once"}
    )
    assert cancel.status_code == 422
    assert cancel.json()["type"].endswith("/idempotency-key-reused")
    assert api.get(f"/v1/claims/{claim_id}").json()["state"] == created.json()["claims"][0]["state"]


def test_a_crash_between_the_commit_and_the_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after the command's transaction committed, before it answered: the
    client's retry gets the answer the first request would have given, and no new events."""
    queries = api.services.read_models.claims
    folded = queries.folded

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the process died after the commit, before its answer")

    key = {"Idempotency-Key": "crash-1"}
    monkeypatch.setattr(queries, "folded", crash)
    assert api.post("/v1/claims", claim_body(), headers=key).status_code == 500
    head = api.head()
    assert head > 0  # the claim was saved
    monkeypatch.setattr(queries, "folded", folded)
    retry = api.post("/v1/claims", claim_body(), headers=key)
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    [claim] = retry.json()["claims"]
    assert api.head() == head  # answered from the record: the command did not run again
    assert [c["claim_id"] for c in api.get("/v1/claims").json()["items"]] == [claim["claim_id"]]

    submit_key = {"Idempotency-Key": "crash-2"}
    body = {"deal_size_usd": "10.00", "disclaimer_accepted": True}
    path = f"/v1/claims/{claim['claim_id']}/consent-request"
    monkeypatch.setattr(queries, "folded", crash)
    assert api.post(path, body, headers=submit_key).status_code == 500
    head = api.head()
    monkeypatch.setattr(queries, "folded", folded)
    retry = api.post(path, body, headers=submit_key)
    assert (retry.status_code, retry.json()["state"], retry.headers["etag"]) == (
        200,
        "awaiting_consent",
        '"2"',
    )
    assert api.head() == head


def test_racing_requests_with_one_key_make_one_change(api: Api) -> None:
    """Requests with one key at the same moment: one runs, the others answer its result."""
    key = {"Idempotency-Key": "race"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: api.post("/v1/claims", claim_body(), headers=key), range(8))
        )
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["claims"][0]["claim_id"] for a in answers}) == 1
    assert len(api.get("/v1/claims").json()["items"]) == 1


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
    assert (again.status_code, again.json()) == (201, first.json())  # as the first answered
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"] == '"1"'  # though it is at 2 now
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


def test_a_write_answers_its_position_and_its_user_reads_it(api: Api) -> None:
    """No views are caught up by the write itself: its answer comes from the write model;
    its user's next read brings the views up to the write, another user's read is not
    held up (it sees the views as they are) unless it names the position."""
    created = api.post("/v1/claims", claim_body())
    position = int(created.headers["ledger-position"])
    assert api.services.workers.views.position() < position  # the write caught nothing up
    colleague = Principal("amy@a.example", "P-A", ADMIN_A.roles)
    unheld = api.get("/v1/claims", colleague, settle=False).json()["items"]
    assert unheld == []  # the colleague's read did not wait: the views lag
    named = api.get("/v1/claims", colleague, settle=False, params={"after": position})
    assert [c["claim_id"] for c in named.json()["items"]] == [
        created.json()["claims"][0]["claim_id"]
    ]
    too_far = api.get("/v1/claims", colleague, settle=False, params={"after": position + 10**6})
    assert too_far.status_code == 422 and too_far.json()["type"].endswith("/invalid-position")
    header = api.get(
        "/v1/claims", colleague, settle=False, headers={"Ledger-Position": str(position)}
    )
    assert header.status_code == 200


def test_a_read_after_a_write_sees_it(api: Api) -> None:
    created = api.post("/v1/claims", claim_body()).json()["claims"][0]
    listed = api.get("/v1/claims", settle=False).json()["items"]  # no worker ran meanwhile
    assert [c["claim_id"] for c in listed] == [created["claim_id"]]
    tab = api.get("/v1/engagements/E-WS/customers", settle=False).json()["items"]
    assert [i["claim_id"] for i in tab] == [created["claim_id"]]
