"""The auditor's desk on the page (SPEC 14): a claim as of a time, its history as JSON Lines,
the audit page and its erasure form."""

from __future__ import annotations

import html
import json
import re
from uuid import UUID

from ledger.domain.commands import Review
from tests.factories import ADMIN_A, AUDITOR, REVIEWER, days, proof
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
