"""The auditor's desk on the page (SPEC 14): a claim as of a time, its history as JSON Lines,
the audit page and its erasure form."""

from __future__ import annotations

import html
import json
import re
from uuid import UUID

import pytest

from ledger.audit.tamper import LogDigests, verify
from ledger.domain.commands import Review
from ledger.domain.principal import Principal, Role
from ledger.runtime.checkpointing import publish_now
from tests.api.helpers import REFERRAL_ADMIN_A
from tests.factories import ADMIN_A, AUDITOR, REVIEWER, SELLER, USER_A1, days, proof
from tests.web.client import Site


def approved(site: Site) -> UUID:
    """A claim approved on day 3 (consent day 1, submitted day 2); its id."""
    claim_id = site.consented()
    ledger = site.services.ledger
    site.clock.now = days(2)
    ledger.submit(ADMIN_A, claim_id, proof(), site.clock())
    site.clock.now = days(3)
    ledger.review(REVIEWER, claim_id, Review(action="start"), site.clock())
    ledger.review(REVIEWER, claim_id, Review(action="approve"), site.clock())
    site.services.workers.views.catch_up()
    return claim_id


def test_an_auditor_reads_a_claim_as_of_a_time_before_its_approval(site: Site) -> None:
    claim_id = approved(site)
    site.clock.now = days(4)
    site.sign_in(AUDITOR)
    now = site.get(f"/claims/{claim_id}")
    assert now.status_code == 200 and "<strong>Approved</strong>" in now.text
    assert 'type="datetime-local" id="as_of" name="as_of"' in now.text
    assert 'class="action"' not in now.text and 'id="as-of-banner"' not in now.text

    then = site.get(f"/claims/{claim_id}", params={"as_of": days(2.5).strftime("%Y-%m-%dT%H:%M")})
    assert then.status_code == 200, then.text
    banner = re.search(r'<p class="banner"[^>]*>(.*?)</p>', then.text, re.S)
    assert banner and "As of " in banner.group(1) and " UTC" in banner.group(1)
    assert "<strong>Approved</strong>" not in then.text and "Submitted" in then.text
    assert "not approved" in then.text
    history = then.text[then.text.index('id="history"') :]
    assert "Claim approved by" not in history and "Claim submitted by" in history

    zoned = site.get(
        f"/claims/{claim_id}",
        params={"as_of": days(2.5).strftime("%Y-%m-%dT%H:%M")},
        cookies={"ledger_zone": "America/Sao_Paulo"},
    )
    assert zoned.status_code == 200

    bad = site.get(f"/claims/{claim_id}", params={"as_of": "yesterday"})
    assert bad.status_code == 422 and "text/html" in bad.headers["content-type"]
    assert "is not an ISO-8601 date-time" in html.unescape(bad.text)
    portuguese = site.get(
        f"/claims/{claim_id}", params={"as_of": "yesterday"}, headers={"Accept-Language": "pt-BR"}
    )
    assert portuguese.status_code == 422 and "yesterday" in html.unescape(portuguese.text)


def test_an_auditor_reads_a_partners_customers_tab_as_of_a_time(site: Site) -> None:
    claim_id = approved(site)
    site.clock.now = days(4)
    site.sign_in(AUDITOR)
    base = "/engagements/E-WS/customers"
    then = site.get(
        base,
        params={
            "partner_id": "P-A",
            "as_of": days(2.5).strftime("%Y-%m-%dT%H:%M"),
            "tab": "eligible",
        },
    )
    assert then.status_code == 200, then.text
    assert 'id="as-of-banner"' in then.text and f'href="/claims/{claim_id}"' in then.text
    assert "/add" not in then.text and "Claim customer" not in then.text
    assert "partner_id=P-A&amp;as_of=" in then.text  # the tabs keep the time and the partner
    completed = site.get(
        base, params={"partner_id": "P-A", "tab": "completed", "as_of": days(2.5).isoformat()}
    )
    assert f'href="/claims/{claim_id}"' not in completed.text  # approved on day 3
    later = site.get(
        base, params={"partner_id": "P-A", "tab": "completed", "as_of": days(3.5).isoformat()}
    )
    assert f'href="/claims/{claim_id}"' in later.text
    assert site.get(base, params={"as_of": "soon"}).status_code == 422


def test_a_claims_history_downloads_as_json_lines(site: Site) -> None:
    claim_id = approved(site)
    site.sign_in(AUDITOR)
    page = site.get(f"/claims/{claim_id}").text
    assert f'href="/claims/{claim_id}/history.jsonl" download' in page
    answer = site.get(f"/claims/{claim_id}/history.jsonl")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/jsonl")
    assert answer.headers["content-disposition"].startswith("attachment")
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert [r["event"] for r in lines] == site.events(claim_id)
    assert lines[-1]["event"] == "Approved" and lines[-1]["actor"]["id"] == REVIEWER.user_id
    site.sign_in(ADMIN_A)  # its partner too, as on the claim page
    assert site.get(f"/claims/{claim_id}/history.jsonl").status_code == 200
    site.sign_in(REVIEWER)  # the details, never the audit trail
    refused = site.get(f"/claims/{claim_id}/history.jsonl")
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]


def test_the_audit_page_shows_the_log_the_last_check_and_erases_a_contact(site: Site) -> None:
    claim_id = approved(site)
    site.sign_in(AUDITOR)
    page = site.get("/audit")
    assert page.status_code == 200, page.text
    digest = LogDigests.of(site.services.ledger).extend()
    assert digest.digest.hex() in page.text
    assert f"After the log&#39;s event number {digest.at}<" in page.text
    assert "No check of the log has been recorded yet." in page.text
    assert "No contact has been erased." in page.text

    result = verify(site.services.ledger)
    site.services.verifications.record(result, site.clock())
    checked = site.get("/audit").text
    shown = re.search(r'<dl class="facts" id="last-verification">(.*?)</dl>', checked, re.S)
    assert shown and f"{result.events} events" in shown.group(1)
    assert "Every event and digest matched" in shown.group(1) and "UTC" in shown.group(1)

    unknown = site.submit(site.get("/audit"), None, {"email": "nobody@fabrikam.com"})
    assert unknown.status_code == 404
    assert "No contact with this e-mail address" in html.unescape(unknown.text)
    step1 = site.submit(site.get("/audit"), None, {"email": "CIO@fabrikam.com"})
    assert step1.status_code == 200, step1.text
    count = re.search(r'<p id="erase-count">(.*?)</p>', step1.text, re.S)
    assert count and "held by 1 claim." in count.group(1)
    assert "Cora" not in step1.text  # the contact's name is never shown
    assert (
        site.state(claim_id) == "approved"
        and "[erased]" not in site.get(f"/claims/{claim_id}").text
    )
    done = site.submit(step1, None)
    assert done.status_code == 303 and done.headers["location"].startswith("/audit?erased=")
    after = site.get(done.headers["location"]).text
    said = re.search(r'<p class="done" role="status">(.*?)</p>', after, re.S)
    assert said and "now reads “[erased]” on 1 claim." in html.unescape(said.group(1))
    assert f'<a href="/claims/{claim_id}">' in after
    assert 'class="done"' not in site.get("/audit").text
    erased = re.search(r"<tbody>(.*?)</tbody>", after, re.S)
    assert (
        erased and AUDITOR.user_id in erased.group(1) and 'data-label="Key id"' in erased.group(1)
    )
    assert "cio@fabrikam.com" not in after.lower()
    assert "[erased]" in site.get(f"/claims/{claim_id}").text
    portuguese = site.get("/audit", headers={"Accept-Language": "pt-BR"})
    assert portuguese.status_code == 200 and 'lang="pt-BR"' in portuguese.text
    claim_pt = site.get(f"/claims/{claim_id}", headers={"Accept-Language": "pt-BR"}).text
    contacts = re.search(r"Contato do cliente</dt><dd>(.*?)</dd>", claim_pt, re.S)
    assert contacts and contacts.group(1) == "[apagado] · [apagado]", contacts
    assert "[erased]" not in claim_pt


def test_an_auditor_checks_the_log_from_the_page(site: Site) -> None:
    site.new_claim(["E-WS"])
    site.sign_in(AUDITOR)
    before = site.get("/audit")
    assert "No check of the log has been recorded yet." in before.text
    form = site.form(before, "/audit/verifications")
    checked = site.post(form.action, form.data(None, {}))
    assert checked.status_code == 303, checked.text
    assert checked.headers["location"] == "/audit?checked=yes#last-check"
    page = site.get("/audit?checked=yes").text
    assert "The log was checked: see the outcome below." in page
    shown = re.search(r'<dl class="facts" id="last-verification">(.*?)</dl>', page, re.S)
    assert shown and "Every event and digest matched" in shown.group(1)
    site.sign_in(ADMIN_A)
    assert site.post(form.action, form.data(None, {})).status_code == 403


def test_only_an_auditor_reaches_the_audit_page(site: Site) -> None:
    site.new_claim(["E-WS"])
    for principal in (ADMIN_A, REVIEWER):
        site.sign_in(principal)
        assert site.get("/audit").status_code == 403
        keys = site.form(site.get("/"), "/sign-out").keys()  # a form of theirs: refused too
        sent = {**keys, "email": "cio@fabrikam.com", "confirm": "yes"}
        assert site.post("/audit/erasures", sent).status_code == 403
    site.sign_in(AUDITOR)
    assert "No contact has been erased." in site.get("/audit").text


NAV = re.compile(r'<nav aria-label="Main">(.*?)</nav>', re.S)


@pytest.mark.parametrize(
    "principal",
    [ADMIN_A, USER_A1, REFERRAL_ADMIN_A, REVIEWER, AUDITOR, SELLER],
    ids=lambda p: "-".join(sorted(p.roles)),
)
def test_every_link_in_the_header_opens_for_the_person_it_is_shown_to(
    site: Site, principal: Principal
) -> None:
    site.sign_in(principal)
    home = site.get("/", follow_redirects=True)
    nav = NAV.search(home.text)
    assert nav, home.text
    links = re.findall(r'<a href="([^"]+)"', nav.group(1))
    assert links
    for link in links:
        assert site.get(link).status_code == 200, (principal.user_id, link)
    assert ("/dashboard" in links) == principal.is_partner_user
    assert ("/audit" in links) == (Role.AUDITOR in principal.roles)


def test_the_audit_page_shows_the_latest_signed_checkpoint(site: Site) -> None:
    approved(site)
    site.sign_in(AUDITOR)
    assert "Latest signed checkpoint" not in site.get("/audit").text  # none signed yet
    signed = publish_now(site.services.ledger, site.settings, site.clock())
    page = site.get("/audit").text
    assert "Latest signed checkpoint" in page
    assert html.escape(signed.note.split("\n\n")[0]) in page
    assert html.escape(signed.note.rstrip("\n").rsplit("\n", 1)[1]) in page
    portuguese = site.get("/audit", headers={"Accept-Language": "pt-BR"}).text
    assert "Último checkpoint assinado" in portuguese
