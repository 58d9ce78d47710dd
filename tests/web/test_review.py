"""The reviewer's pages: the queue with each claim's details, proof and review forms, one claim
for review, and the review actions posted as forms (R32)."""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.aggregates.claim import ClaimState
from ledger.domain.commands import Review
from ledger.domain.principal import Principal
from tests.factories import ADMIN_A, AUDITOR, REVIEWER, SELLER
from tests.web.client import Site, submitted

START = Review(action="start")


def state(web: Site, claim_id: UUID) -> ClaimState:
    return web.read_models.claims.details(REVIEWER, claim_id).state


def test_the_queue_shows_a_submitted_claim_with_its_proof_and_start_review(web: Site) -> None:
    claim_id = submitted(web)
    web.sign_in(REVIEWER)
    page = web.get("/review")
    assert page.status_code == 200
    html = page.text
    assert "Claims waiting for review" in html
    for text in ("Fabrikam", "Partner A", "Migration workshop", "Submitted", "$20,000.00"):
        assert text in html
    for reference in ("doc-invoice.pdf", "doc-poe_document.pdf", "doc-customer_survey.pdf"):
        assert reference in html
    assert "<caption>Proof submitted: Fabrikam</caption>" in html
    start = web.form(html, f"/review/{claim_id}", f"{claim_id}-start")
    assert start.value("action") == "start" and start.value("version")
    assert "Start review</button>" in html
    assert "Approve</button>" not in html  # not before the review started
    assert 'name="reason"' not in html  # start asks for no reason


def test_start_then_approve_through_the_forms(web: Site) -> None:
    claim_id = submitted(web)
    web.sign_in(REVIEWER)
    start = web.form(web.get("/review").text, f"/review/{claim_id}", f"{claim_id}-start")
    started = web.post(f"/review/{claim_id}", start.data())
    assert started.status_code == 303, started.text
    assert started.headers["location"] == f"/review?done={claim_id}"
    assert state(web, claim_id) is ClaimState.UNDER_REVIEW

    queue = web.get(started.headers["location"]).text
    assert "is now: Under review" in queue
    for label in ("Request information", "Approve", "Reject", "Reject final"):
        assert f"{label}</button>" in queue
    assert queue.count('name="reason"') == 3  # request information, reject, reject final
    approve = web.form(queue, f"/review/{claim_id}", f"{claim_id}-approve")
    approved = web.post(f"/review/{claim_id}", approve.data())
    assert approved.status_code == 303
    assert state(web, claim_id) is ClaimState.APPROVED
    after = web.get(approved.headers["location"]).text
    assert "is now: Approved" in after and "No claim is waiting for review." in after


def test_request_information_with_a_reason_moves_the_claim_to_the_partner(web: Site) -> None:
    claim_id = submitted(web)
    web.services.ledger.review(REVIEWER, claim_id, START, web.clock.now)
    web.services.workers.run_once()
    web.sign_in(REVIEWER)
    form = web.form(
        web.get(f"/review/{claim_id}").text, f"/review/{claim_id}", "request_information"
    )
    response = web.post(
        f"/review/{claim_id}", form.data(answers={"reason": "the invoice is unsigned"})
    )
    assert response.status_code == 303
    row = web.read_models.claims.details(REVIEWER, claim_id)
    assert row.state is ClaimState.PARTNER_ACTION_REQUIRED
    assert row.last_reason == "the invoice is unsigned"


def test_reject_without_a_reason_is_refused_next_to_the_reason_field(web: Site) -> None:
    claim_id = submitted(web)
    web.services.ledger.review(REVIEWER, claim_id, START, web.clock.now)
    web.services.workers.run_once()
    web.sign_in(REVIEWER)
    form = web.form(web.get(f"/review/{claim_id}").text, f"/review/{claim_id}", "reject")
    refused = web.post(f"/review/{claim_id}", form.data(answers={"reason": "   "}))
    assert refused.status_code == 422
    html = refused.text
    message = "Enter the reason for “Reject”. (R32)"
    assert 'role="alert"' in html and f'<a href="#reason">{message}</a>' in html  # the summary
    assert f'<p class="error" id="reason-error">{message}</p>' in html  # next to the field
    assert 'id="reason" name="reason"' in html and 'aria-describedby="reason-error"' in html
    assert state(web, claim_id) is ClaimState.UNDER_REVIEW  # nothing changed

    # a reason too long for R32's field is refused too, and what was typed is kept
    again = web.form(html, f"/review/{claim_id}", "reject")
    typed = "x" * 2001
    long = web.post(f"/review/{claim_id}", again.data(answers={"reason": typed}))
    assert long.status_code == 422 and typed in long.text
    assert web.form(long.text, f"/review/{claim_id}", "reject").value("reason") == typed
    assert 'id="reason-error"' in long.text


def test_the_same_form_posted_twice_makes_one_change(web: Site) -> None:
    claim_id = submitted(web)
    web.sign_in(REVIEWER)
    start = web.form(web.get("/review").text, f"/review/{claim_id}", f"{claim_id}-start")
    first = web.post(f"/review/{claim_id}", start.data())
    version = web.read_models.claims.details(REVIEWER, claim_id).version
    second = web.post(f"/review/{claim_id}", start.data())
    assert first.status_code == second.status_code == 303
    assert second.headers["location"] == first.headers["location"]
    assert web.read_models.claims.details(REVIEWER, claim_id).version == version
    history = web.read_models.claims.history(AUDITOR, claim_id)
    assert [h.event for h in history].count("ReviewStarted") == 1


def test_a_stale_form_is_refused_with_the_claim_as_it_is_now(web: Site) -> None:
    claim_id = submitted(web)
    web.sign_in(REVIEWER)
    start = web.form(web.get("/review").text, f"/review/{claim_id}", f"{claim_id}-start")
    web.services.ledger.review(REVIEWER, claim_id, START, web.clock.now)  # another reviewer
    web.services.workers.run_once()
    refused = web.post(f"/review/{claim_id}", start.data())
    assert refused.status_code == 412, refused.text
    assert "Under review" in refused.text and "Approve</button>" in refused.text


def test_a_post_without_a_valid_csrf_token_is_403_and_changes_nothing(web: Site) -> None:
    claim_id = submitted(web)
    web.sign_in(REVIEWER)
    start = web.form(web.get("/review").text, f"/review/{claim_id}", f"{claim_id}-start")
    forged = web.post(f"/review/{claim_id}", start.data(answers={"csrf": "0" * 64}))
    not_ascii = web.post(f"/review/{claim_id}", start.data(answers={"csrf": "é" * 64}))
    missing = web.post(
        f"/review/{claim_id}", {"action": "start", "version": start.value("version")}
    )
    assert forged.status_code == not_ascii.status_code == missing.status_code == 403
    assert state(web, claim_id) is ClaimState.SUBMITTED


@pytest.mark.parametrize("principal", [ADMIN_A, SELLER, AUDITOR])
def test_other_roles_get_the_403_page(web: Site, principal: Principal) -> None:
    claim_id = submitted(web)
    web.sign_in(REVIEWER)
    start = web.form(web.get("/review").text, f"/review/{claim_id}", f"{claim_id}-start")
    web.sign_in(principal)
    for response in (
        web.get("/review"),
        web.get(f"/review/{claim_id}"),
        web.post(f"/review/{claim_id}", start.data()),
    ):
        assert response.status_code == 403
        assert "text/html" in response.headers["content-type"]
        assert "This needs the role of Reviewer. (R32)" in response.text
    assert state(web, claim_id) is ClaimState.SUBMITTED


def test_one_claim_for_review_and_unknown_claims(web: Site) -> None:
    claim_id = submitted(web)
    web.sign_in(REVIEWER)
    page = web.get(f"/review/{claim_id}")
    assert page.status_code == 200
    assert "Fabrikam" in page.text and "doc-partner_survey.pdf" in page.text
    assert web.form(page.text, f"/review/{claim_id}", "start").value("action") == "start"
    for path in ("/review/00000000-0000-0000-0000-000000000000", "/review/not-a-claim"):
        missing = web.get(path)
        assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


def test_the_queue_signs_in_first(web: Site) -> None:
    response = web.get("/review")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/review"


def test_each_reason_field_has_a_label_of_its_own(web: Site) -> None:
    """A sentence per action, not the action's name put into "Reason for ..."."""
    claim_id = submitted(web)
    web.services.ledger.review(REVIEWER, claim_id, START, web.clock.now)
    web.services.workers.run_once()
    web.sign_in(REVIEWER)
    page = web.get(f"/review/{claim_id}").text
    for label in (
        "What information is needed",
        "Why you reject the claim",
        "Why you reject the claim for good",
    ):
        assert f">{label}</label>" in page, label
    assert "Reason for" not in page
    web.client.headers["Accept-Language"] = "pt-BR"
    brazilian = web.get(f"/review/{claim_id}").text
    for label in (
        "Que informações são necessárias",
        "Por que você rejeita a declaração",
        "Por que você rejeita a declaração em definitivo",
    ):
        assert f">{label}</label>" in brazilian, label
    assert "Motivo para" not in brazilian
