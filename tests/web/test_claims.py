"""The claims pages (SPEC section 7): the list with filters, sort, pages and CSV; a claim's
details, history and referral link; the partner's actions as forms, refused and accepted."""

from __future__ import annotations

import copy
import csv
import html
import io
import re
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

import web.routes.claims
from api.presenters import CSV_COLUMNS
from cli.site import create_app
from ledger.domain.catalog import Catalog
from ledger.domain.commands import Review
from ledger.domain.principal import Principal, Role
from tests.conftest import Clock
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    AUDITOR,
    CATALOG_DATA,
    LITWARE,
    NORTHWIND,
    REVIEWER,
    USER_A1,
    days,
    proof,
)
from tests.web.client import Form, Site, read_session

ADMIN_AND_REFERRALS_A = Principal(
    "ria@a.example", "P-A", frozenset({Role.INCENTIVES_ADMIN, Role.REFERRAL_ADMIN})
)
CONTACTS = {
    "contacts.customer.name": "Cora Customer",
    "contacts.customer.email": "cio@fabrikam.com",
    "contacts.partner.name": "Pat Partner",
    "contacts.partner.email": "pat@a.example",
}


def section(page: str, name: str) -> str:
    """The ``<section class="action" id=name>`` of a page."""
    found = re.search(rf'<section class="action" id="{name}".*?</section>', page, re.S)
    assert found, f"no section {name}"
    return found.group(0)


def action_form(page: str, name: str) -> Form:
    """The form of the ``<section class="action" id=name>`` of a page."""
    return Site.form(section(page, name))


def form(site: Site, claim_id: UUID, action: str) -> Form:
    """The action's form on the claim's page, as rendered now."""
    page = site.get(f"/claims/{claim_id}")
    assert page.status_code == 200, page.text
    return action_form(page.text, action)


def error_of(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="error" id="{field_id}-error">(.*?)</p>', page, re.S)
    assert found, f"no error next to {field_id}"
    return html.unescape(found.group(1))


def names_in(page: str) -> list[str]:
    """The customer names of a claims table, in order."""
    return re.findall(r'<th scope="row"[^>]*><a href="/claims/[^"]+">([^<]+)</a>', page)


# -- the list -----------------------------------------------------------------------------


def test_the_list_filters_sorts_pages_and_downloads(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.new_claim(["E-WS"])
    site.awaiting(
        engagements=["E-AS"], value=NORTHWIND, name="Northwind", customer_email="it@northwind.com"
    )
    site.new_claim(["E-AS"], value=LITWARE, name="Litware", customer_email="it@litware.com")
    site.new_claim(
        ["E-AS"],
        ADMIN_B,
        value=LITWARE,
        name="Litware B",
        location="LOC-B1",
        customer_email="it@litware.com",
    )

    page = site.get("/claims")
    assert page.status_code == 200
    assert sorted(names_in(page.text)) == ["Fabrikam", "Litware", "Northwind"]
    assert "Awaiting customer consent response" in page.text
    assert 'href="/claims/' in page.text and "#request_consent" in page.text

    assert sorted(names_in(site.get("/claims?engagement_id=E-AS").text)) == [
        "Litware",
        "Northwind",
    ]
    assert names_in(site.get("/claims?state=awaiting_consent").text) == ["Northwind"]
    assert names_in(site.get("/claims?customer=north").text) == ["Northwind"]
    ascending = site.get("/claims?sort=friendly_name&order=asc").text
    assert names_in(ascending) == ["Fabrikam", "Litware", "Northwind"]
    assert '<option value="friendly_name" selected>' in ascending
    descending = site.get("/claims?sort=friendly_name&order=desc").text
    assert names_in(descending) == ["Northwind", "Litware", "Fabrikam"]

    refused = site.get("/claims?sort=colour")
    assert refused.status_code == 422
    said = "Sort by one of: Created, Last change, State, Engagement, or Claim name."
    assert html.unescape(error_of(refused.text, "sort")) == said  # the sort list's labels
    assert "friendly_name," not in refused.text
    brazilian = site.get("/claims?sort=colour", headers={"Accept-Language": "pt-BR"})
    assert html.unescape(error_of(brazilian.text, "sort")) == (
        "Ordene por um de: Criada em, Última alteração, Estado, Compromisso ou Nome da declaração."
    )
    assert 'class="error-summary"' in refused.text

    monkeypatch.setattr(web.routes.claims, "PAGE_SIZE", 2)
    first = site.get("/claims?sort=friendly_name&order=asc")
    assert names_in(first.text) == ["Fabrikam", "Litware"]
    link = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert link, "no Next page link"
    second = site.get(html.unescape(link.group(1)))
    assert names_in(second.text) == ["Northwind"]
    assert 'rel="next"' not in second.text

    download = re.search(r'<a class="button secondary" href="([^"]+)" download>', first.text)
    assert download and html.unescape(download.group(1)).startswith("/claims.csv?")
    answer = site.get(html.unescape(download.group(1)))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == CSV_COLUMNS
    names = [r[CSV_COLUMNS.index("friendly_name")] for r in rows[1:]]
    assert names == ["Fabrikam", "Litware", "Northwind"]  # every page, in the list's order
    only_as = site.get("/claims.csv?engagement_id=E-AS")
    assert len(list(csv.reader(io.StringIO(only_as.text)))) == 3


def test_the_list_needs_a_sign_in_and_a_partner_role(site: Site) -> None:
    site.client.cookies.clear()
    answer = site.get("/claims?state=approved")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in?next=/claims")
    site.sign_in(REVIEWER)
    assert site.get("/claims").status_code == 403
    assert site.get("/claims.csv").status_code == 403


# -- one claim ------------------------------------------------------------------------------


def test_details_show_the_claim_its_history_and_its_referral(site: Site) -> None:
    claim_id = site.awaiting()
    site.services.workers.run_once()  # the referral policy (E-WS has referrals)
    row = site.services.read_models.claims.details(ADMIN_A, claim_id)
    assert row.referral_id is not None

    page = site.get(f"/claims/{claim_id}")
    assert page.status_code == 200
    text = page.text
    assert "Awaiting customer consent response" in text
    assert "Migration workshop" in text and "Cora Customer" in text and "pat@a.example" in text
    assert "$20,000.00" in text and "$5,000.00" in text  # deal size, fixed payout
    assert "Customer consent" in text and "days left" in text  # the running deadline
    assert str(row.referral_id) in text
    assert f'href="/referrals/{row.referral_id}"' not in text  # not a referral admin (R41)
    history = text[text.index('id="history"') :]
    for said in (
        "Customer added and claimed by ann@a.example",
        "Consent requested by ann@a.example",
        "Referral opened by the system",
    ):
        assert f'data-label="What happened" class="said">{said}: ' in history
    assert '<span class="label">deal size</span> $20,000.00' in history
    for raw in ("ConsentRequested", "deal_size_usd", "eligibility_key", "(user)", "20000"):
        assert raw not in history, raw
    assert 'id="send_consent_reminder"' in text and 'id="cancel"' in text
    assert 'id="request_consent"' not in text

    site.sign_in(ADMIN_AND_REFERRALS_A)
    assert f'href="/referrals/{row.referral_id}"' in site.get(f"/claims/{claim_id}").text

    site.sign_in(REVIEWER)  # details, but not the audit trail, and no partner action
    seen = site.get(f"/claims/{claim_id}")
    assert seen.status_code == 200 and "Awaiting customer consent response" in seen.text
    assert 'id="history"' not in seen.text and 'class="action"' not in seen.text

    site.sign_in(AUDITOR)
    audited = site.get(f"/claims/{claim_id}")
    assert audited.status_code == 200 and 'id="history"' in audited.text


def test_a_location_the_user_may_not_use_is_a_403_page(site: Site) -> None:
    claim_id = site.new_claim(["E-A2"], location="LOC-A2")
    site.sign_in(USER_A1)
    answer = site.get(f"/claims/{claim_id}")
    assert answer.status_code == 403
    assert "text/html" in answer.headers["content-type"] and "(R1)" in answer.text


def test_another_partners_claim_is_a_404_page_and_cannot_be_changed(site: Site) -> None:
    theirs = site.new_claim(
        ["E-AS"], ADMIN_B, value=LITWARE, location="LOC-B1", customer_email="it@litware.com"
    )
    answer = site.get(f"/claims/{theirs}")
    assert answer.status_code == 404
    assert "text/html" in answer.headers["content-type"]
    assert site.get("/claims/not-a-claim").status_code == 404

    mine = site.new_claim()
    mine_cancel = form(site, mine, "cancel")  # a form of my claim fits no other claim's address
    posted = site.post(
        f"/claims/{theirs}/cancellation", mine_cancel.data(answers={"confirm": "yes"})
    )
    assert posted.status_code == 403 and "text/html" in posted.headers["content-type"]
    # Keys minted for that address (as if the page had rendered them): the claim is unknown.
    session = read_session(site.client, site.services)
    path = f"/claims/{theirs}/cancellation"
    keys = {"form_key": "k", "csrf": session.csrf_for(path, "k"), "confirm": "yes"}
    posted = site.post(path, keys)
    assert posted.status_code == 404 and "text/html" in posted.headers["content-type"]
    assert site.state(theirs) == "customer_claimed"


# -- the actions --------------------------------------------------------------------------


def test_send_consent_refused_keeps_what_was_typed_then_sent(site: Site) -> None:
    claim_id = site.new_claim()
    typed = {**CONTACTS, "deal_size_usd": "25000.00"}  # the disclaimer left unchecked
    refused = site.post(
        f"/claims/{claim_id}/consent-request",
        form(site, claim_id, "request_consent").data(answers=typed),
    )
    assert refused.status_code == 422
    assert "(R21)" in error_of(refused.text, "disclaimer_accepted")
    assert 'href="#disclaimer_accepted"' in refused.text  # the summary links to it
    consent = section(refused.text, "request_consent")
    assert 'name="deal_size_usd" type="text" value="25000.00"' in consent
    assert Site.form(consent).value("deal_size_usd") == "25000.00"
    assert site.state(claim_id) == "customer_claimed"

    malformed = site.post(
        f"/claims/{claim_id}/consent-request",
        Site.form(consent).data(
            answers={**typed, "deal_size_usd": "lots", "disclaimer_accepted": "true"}
        ),
    )
    assert malformed.status_code == 422
    assert "(R21)" in error_of(malformed.text, "deal_size_usd")
    assert 'value="lots"' in section(malformed.text, "request_consent")

    sent = site.post(
        f"/claims/{claim_id}/consent-request",
        action_form(malformed.text, "request_consent").data(
            answers={**typed, "disclaimer_accepted": "true"}
        ),
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/claims/{claim_id}"
    shown = site.get(sent.headers["location"])
    assert "Awaiting customer consent response" in shown.text
    assert "$25,000.00" in shown.text and 'id="send_consent_reminder"' in shown.text
    assert site.events(claim_id).count("ConsentRequested") == 1


def test_submit_needs_every_required_proof_item(site: Site) -> None:
    claim_id = site.consented()
    submit = form(site, claim_id, "submit")
    typed = {f"proof.{i}.reference": f"doc-{i}.pdf" for i in range(3)}  # the 4th left blank
    assert submit.get("proof.3.reference") == [""]
    refused = site.post(f"/claims/{claim_id}/submission", submit.data(answers=typed))
    assert refused.status_code == 422
    assert "Partner survey is missing. (R30)" in error_of(refused.text, "proof")
    assert 'value="doc-2.pdf"' in section(refused.text, "submit")
    assert site.state(claim_id) == "consent_received"

    too_long = {"proof.1.reference": "x" * 501}  # after a blank one: named by its own field
    again = action_form(refused.text, "submit")
    named = site.post(f"/claims/{claim_id}/submission", again.data(answers=too_long))
    assert named.status_code == 422
    assert "(R30)" in error_of(named.text, "proof-1-reference")

    every = {**typed, "proof.3.reference": "survey.pdf"}
    last = action_form(named.text, "submit")
    done = site.post(f"/claims/{claim_id}/submission", last.data(answers=every))
    assert done.status_code == 303
    shown = site.get(f"/claims/{claim_id}").text
    assert "<strong>Submitted</strong>" in shown and "survey.pdf" in shown


def test_the_proof_form_asks_what_the_claim_recorded_after_a_catalog_change(
    site: Site, clock: Clock
) -> None:
    """R30 holds a claim to the proof recorded when it was made: after the catalog asks
    new claims for less, the page still offers (and submits) every recorded kind."""
    claim_id = site.consented()
    data = copy.deepcopy(CATALOG_DATA)
    workshop = next(e for e in data["engagements"] if e["id"] == "E-WS")
    workshop["required_proof"] = ["invoice"]
    changed = create_app(
        site.settings, catalog=Catalog.model_validate(data), clock=clock, run_workers=False
    )
    with TestClient(changed, raise_server_exceptions=False, follow_redirects=False) as client:
        later = Site(changed, client, site.settings, clock)
        later.sign_in(ADMIN_A)
        page = section(later.get(f"/claims/{claim_id}").text, "submit")
        offered = re.findall(r'name="(proof\.\d\.reference)"', page)
        assert offered == [f"proof.{i}.reference" for i in range(4)]
        typed = {f"proof.{i}.reference": f"doc-{i}.pdf" for i in range(4)}
        done = later.post(f"/claims/{claim_id}/submission", Site.form(page).data(answers=typed))
        assert done.status_code == 303, done.text
        assert later.state(claim_id) == "submitted"


def test_a_rejected_claim_is_disputed_and_resubmitted(site: Site) -> None:
    claim_id = site.consented()
    ledger, now = site.services.ledger, site.clock()
    ledger.submit(ADMIN_A, claim_id, proof(), now)
    ledger.review(REVIEWER, claim_id, Review(action="start"), now)
    ledger.review(REVIEWER, claim_id, Review(action="reject", reason="no invoice"), now)
    site.services.workers.views.catch_up()
    page = site.get(f"/claims/{claim_id}").text
    assert "no invoice" in page  # the reviewer's reason

    dispute = action_form(page, "dispute").data(answers={"reason": "see it"})
    assert site.post(f"/claims/{claim_id}/dispute", dispute).status_code == 303
    page = site.get(f"/claims/{claim_id}").text
    assert "<strong>Disputed</strong>" in page
    resubmit = section(page, "submit")
    assert "Update proof and submit" in resubmit
    assert 'value="doc-invoice.pdf"' in resubmit  # the earlier submission's references


def test_cancel_asks_for_confirmation_first(site: Site) -> None:
    claim_id = site.new_claim()
    asked = site.post(f"/claims/{claim_id}/cancellation", form(site, claim_id, "cancel").data())
    assert asked.status_code == 200 and "Are you sure?" in asked.text
    assert site.state(claim_id) == "customer_claimed"
    assert "Are you sure?" in site.get(f"/claims/{claim_id}?confirm=cancel").text

    confirm = action_form(asked.text, "cancel")
    assert confirm.value("confirm") == "yes"
    done = site.post(
        f"/claims/{claim_id}/cancellation", confirm.data(answers={"reason": "wrong customer"})
    )
    assert done.status_code == 303
    assert "<strong>Canceled</strong>" in site.get(f"/claims/{claim_id}").text
    assert site.events(claim_id)[-1] == "Cancelled"


def test_a_stale_form_is_412_and_changes_nothing(site: Site) -> None:
    claim_id = site.awaiting()
    stale = form(site, claim_id, "send_consent_reminder")
    site.clock.now = days(0.1)
    site.services.ledger.send_consent_reminder(ADMIN_A, claim_id, site.clock())  # meanwhile
    answer = site.post(f"/claims/{claim_id}/consent-reminder", stale.data())
    assert answer.status_code == 412
    assert "The claim changed meanwhile" in answer.text
    assert site.events(claim_id).count("ConsentReminderSent") == 1

    fresh = action_form(answer.text, "send_consent_reminder")
    assert int(fresh.value("version")) > int(stale.value("version"))
    assert site.post(f"/claims/{claim_id}/consent-reminder", fresh.data()).status_code == 303
    assert site.events(claim_id).count("ConsentReminderSent") == 2


def test_the_same_rendered_form_posted_twice_makes_one_change(site: Site) -> None:
    claim_id = site.awaiting()
    keys = form(site, claim_id, "send_consent_reminder").data()
    first = site.post(f"/claims/{claim_id}/consent-reminder", keys)
    again = site.post(f"/claims/{claim_id}/consent-reminder", keys)
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == f"/claims/{claim_id}"
    assert site.events(claim_id).count("ConsentReminderSent") == 1


def test_a_form_posted_again_after_a_crash_after_its_commit_makes_one_change(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The browser's retry of a form whose first post died after the commit (here: before
    its answer) is answered from the record of its key: no second change."""
    claim_id = site.awaiting()
    keys = form(site, claim_id, "send_consent_reminder").data()

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the process died after the commit")

    with monkeypatch.context() as patched:
        patched.setattr(site.services.freshness, "wrote", crash)
        assert site.post(f"/claims/{claim_id}/consent-reminder", keys).status_code == 500
    assert site.events(claim_id).count("ConsentReminderSent") == 1
    again = site.post(f"/claims/{claim_id}/consent-reminder", keys)
    assert (again.status_code, again.headers["location"]) == (303, f"/claims/{claim_id}")
    assert again.headers["idempotent-replayed"] == "true"
    assert site.events(claim_id).count("ConsentReminderSent") == 1


def test_a_post_without_a_valid_csrf_token_is_403_and_changes_nothing(site: Site) -> None:
    claim_id = site.new_claim()
    consent = form(site, claim_id, "request_consent")
    typed = {**CONTACTS, "deal_size_usd": "1000.00", "disclaimer_accepted": "true"}
    without = consent.data(answers=typed, without={"csrf"})
    for sent in (without, consent.data(answers={**typed, "csrf": "forged"})):
        answer = site.post(f"/claims/{claim_id}/consent-request", sent)
        assert answer.status_code == 403 and "This form has expired" in answer.text
    cancel = action_form(site.get(f"/claims/{claim_id}").text, "cancel")
    confirm = cancel.data(answers={"confirm": "yes"}, without={"csrf"})
    assert site.post(f"/claims/{claim_id}/cancellation", confirm).status_code == 403
    assert site.events(claim_id) == ["Added"]


def test_a_page_query_that_does_not_parse_is_an_html_error_page(site: Site) -> None:
    """A tab that is not one: the page's own error page (422), not the API's JSON."""
    answer = site.get("/engagements/E-WS/customers?tab=nope")
    assert answer.status_code == 422
    assert "text/html" in answer.headers["content-type"] and "Completed" in answer.text
    assert "Content-Security-Policy" in answer.headers
    api = site.get("/v1/engagements/E-WS/customers?tab=nope")
    assert api.headers["content-type"].startswith("application/problem+json")


def test_a_name_that_a_spreadsheet_would_run_is_written_as_text(site: Site) -> None:
    formula = '=HYPERLINK("https://evil.example","Open")'
    site.new_claim(name=formula)
    site.new_claim(["E-AS"], name="-1+2", value=LITWARE, customer_email="it@litware.com")
    rows = list(csv.reader(io.StringIO(site.get("/claims.csv").text)))
    names = {r[CSV_COLUMNS.index("friendly_name")] for r in rows[1:]}
    assert names == {"'" + formula, "'-1+2"}
    assert formula in site.get("/claims").text.replace("&#34;", '"')  # the page shows it as is


def test_the_referral_hint_speaks_to_who_reads_it(site: Site) -> None:
    """A partner user who cannot open the referral is told who can; a reviewer (the
    programme's, not the partner's) sees the referral's id without a word about the partner."""
    claim_id = site.awaiting()
    site.services.workers.run_once()  # the referral policy
    referral_id = site.services.read_models.claims.details(ADMIN_A, claim_id).referral_id
    hint = "a referral admin of your organisation can open it"
    assert hint in site.get(f"/claims/{claim_id}").text
    site.sign_in(REVIEWER)
    seen = site.get(f"/claims/{claim_id}").text
    referral = seen[seen.index('id="referral"') :].split("</dd>")[0]
    assert str(referral_id) in referral and hint not in seen and "hint" not in referral


def test_the_claims_crumb_is_shown_only_to_those_who_may_open_the_list(site: Site) -> None:
    """/claims is the partner's list and the auditor's (403 for other programme roles): a
    reviewer goes back to the review queue."""
    claim_id = site.awaiting()
    crumbs = re.compile(r'<p class="crumbs">(.*?)</p>', re.S)
    partner = crumbs.search(site.get(f"/claims/{claim_id}").text)
    assert partner and '<a href="/claims">Claims</a>' in partner.group(1)
    site.sign_in(REVIEWER)
    reviewer = crumbs.search(site.get(f"/claims/{claim_id}").text)
    assert reviewer and reviewer.group(1) == '<a href="/review">Claims waiting for review</a>'
    site.sign_in(AUDITOR)
    audited = crumbs.search(site.get(f"/claims/{claim_id}").text)
    assert audited and audited.group(1) == '<a href="/claims">Claims</a>'


def test_an_auditor_lists_every_partners_claims_with_a_partner_filter(site: Site) -> None:
    mine = site.new_claim(["E-WS"])
    site.new_claim(
        ["E-AS"],
        ADMIN_B,
        value=LITWARE,
        name="Litware B",
        location="LOC-B1",
        customer_email="it@litware.com",
    )
    site.sign_in(AUDITOR)
    home = site.get("/").text
    assert 'href="/claims"' in home and 'href="/audit"' in home
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', home, re.S)
    assert nav and ">Claims</a>" in nav.group(1) and ">Audit</a>" in nav.group(1)
    page = site.get("/claims")
    assert page.status_code == 200
    assert sorted(names_in(page.text)) == ["Fabrikam", "Litware B"]
    assert '<th scope="col">Partner</th>' in page.text and 'data-label="Partner"' in page.text
    assert 'data-label="Action"' not in page.text  # an auditor acts on no claim
    assert '<select id="partner_id" name="partner_id"' in page.text
    assert names_in(site.get("/claims?partner_id=P-B").text) == ["Litware B"]
    assert 'class="action"' not in site.get(f"/claims/{mine}").text
    csv_rows = list(csv.reader(io.StringIO(site.get("/claims.csv").text)))
    assert len(csv_rows) == 3
    assert sorted(r[CSV_COLUMNS.index("partner_id")] for r in csv_rows[1:]) == ["P-A", "P-B"]

    site.sign_in(ADMIN_A)  # a partner's own list is unchanged: no partner column or filter
    own = site.get("/claims").text
    assert names_in(own) == ["Fabrikam"] and 'data-label="Partner"' not in own
    assert site.get("/claims?partner_id=P-B").status_code == 403
