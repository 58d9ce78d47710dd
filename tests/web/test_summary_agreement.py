"""The dashboard, the API summary and `ledger report --csv` agree on every number for the same
events (SPEC 13), on stores made by a sequence of commands; and `ledger report --html`."""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from ledger.domain.access import AccessTokens
from ledger.domain.commands import Cancel, Review
from ledger.projections.summary import by_engagement, replayed_inputs, scoped, summarize
from ledger.service.clock import utc_now
from tests.conftest import Clock
from tests.factories import (
    ADMIN_A,
    AUDITOR,
    CATALOG_DATA,
    FABRIKAM,
    LITWARE,
    NORTHWIND,
    REVIEWER,
    consent_request,
    create,
    days,
    proof,
)
from tests.web.client import Site, make_site
from web.labels import DROP_OUT_LABELS, FUNNEL_LABELS

CUSTOMERS: list[dict[str, Any]] = [
    {"engagements": ["E-WS"], "value": FABRIKAM},
    {
        "engagements": ["E-WS"],
        "value": NORTHWIND,
        "name": "Northwind",
        "customer_email": "it@northwind.com",
    },
    {
        "engagements": ["E-AS"],
        "value": LITWARE,
        "name": "Litware",
        "customer_email": "it@litware.com",
    },
]
"""One claim a customer (no customer is known before its claim, R15)."""
STAGES = (
    "created",
    "asked",
    "consented",
    "submitted",
    "approved",
    "rejected",
    "informing",
    "cancelled",
    "declined",
)


def play(site: Site, stage: str, customer: dict[str, Any]) -> None:
    """One claim taken to ``stage`` through the Ledger's commands, a day a step."""
    ledger = site.services.ledger

    def now() -> Any:
        site.clock.now = site.clock.now + timedelta(days=1)
        return site.clock.now

    (claim_id,) = ledger.create_claims(ADMIN_A, create(**customer), now())
    if stage == "cancelled":
        ledger.cancel(ADMIN_A, claim_id, Cancel(), now())
    if stage in {"created", "cancelled"}:
        return
    link = ledger.request_consent(ADMIN_A, claim_id, consent_request(), now())
    if stage != "asked":
        ledger.answer_consent(claim_id, link, stage != "declined", now())
    if stage in {"submitted", "approved", "rejected", "informing"}:
        kinds = None if customer["engagements"] == ["E-WS"] else ["poe_document"]
        ledger.submit(ADMIN_A, claim_id, proof(kinds), now())
    if stage in {"approved", "rejected", "informing"}:
        ledger.review(REVIEWER, claim_id, Review(action="start"), now())
        why = "the invoice is missing"
        review = {
            "approved": Review(action="approve"),
            "rejected": Review(action="reject", reason=why),
            "informing": Review(action="request_information", reason=why),
        }[stage]
        ledger.review(REVIEWER, claim_id, review, now())


def api_summary(site: Site) -> Any:
    token = AccessTokens(site.settings.signing_key()).mint(AUDITOR, timedelta(hours=1), utc_now())
    site.services.workers.run_once()
    response = site.client.get("/v1/reports/summary", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def csv_report(site: Site) -> list[dict[str, str]]:
    env = {"LEDGER_DATABASE_URL": site.settings.database_url}
    result = CliRunner().invoke(app, ["report", "--csv"], env=env)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def dashboard_numbers(site: Site) -> dict[tuple[str, str], str]:
    """Each table cell of the dashboard by its column and row: ("Stage", "Approved") ..."""
    site.sign_in(ADMIN_A)
    html = site.get("/dashboard").text
    cells = re.findall(
        r'<th scope="row" data-label="([^"]*)">([^<]*)</th><td[^>]*>([^<]*)</td>', html
    )
    return {(column, row): value for column, row, value in cells}


def assert_agree(site: Site) -> None:
    api = api_summary(site)
    rows = csv_report(site)
    by_state: Counter[str] = Counter()
    for row in rows:
        by_state[row["state"]] += int(row["claims"])
    assert api["claims_by_state"] == dict(by_state)
    assert api["total_claims"] == sum(by_state.values())
    approved = sum(Decimal(r["payout_usd"]) for r in rows if r["state"] == "approved")
    assert Decimal(api["payouts_usd"]["approved"]) == approved
    shown = dashboard_numbers(site)  # one partner here: the dashboard counts every claim
    for key, label in FUNNEL_LABELS.items():
        assert shown["Stage", label] == str(api["funnel"][key])
    for key, label in DROP_OUT_LABELS.items():
        assert shown["Outcome", label] == str(api["drop_outs"][key])
    for key, label in (("approved", "Payouts approved"), ("pending", "Payouts pending")):
        amount = Decimal(re.sub(r"[^0-9.]", "", shown["Payouts", label]))
        assert amount == Decimal(api["payouts_usd"][key])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stages=st.lists(st.sampled_from(STAGES), min_size=1, max_size=len(CUSTOMERS)))
def test_the_dashboard_the_api_and_the_csv_agree(stages: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        clock = Clock()
        for site in make_site(Path(directory), clock):
            for stage, customer in zip(stages, CUSTOMERS, strict=False):
                play(site, stage, customer)
            assert_agree(site)


def assert_live_is_replayed(site: Site) -> None:
    """The live figures (SQL over the views) are the replayed ones, for the programme (in
    total and per engagement) and for the partner, at the same time."""
    site.services.workers.views.catch_up()
    now = site.clock.now + timedelta(days=25)  # some deadlines within the week, some not
    models, ledger = site.services.read_models, site.services.ledger
    rows, times = replayed_inputs(ledger, now)
    for principal in (AUDITOR, ADMIN_A):
        total, engagements = models.live.figures(models.claims.store, principal, None, now)
        mine = scoped(principal, rows, None)
        assert total == summarize(mine, times, now)
        assert engagements == by_engagement(mine, times, now)
        for engagement_id in ("E-WS", "E-AS"):
            one, _ = models.live.figures(models.claims.store, principal, engagement_id, now)
            assert one == summarize(scoped(principal, rows, engagement_id), times, now)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stages=st.lists(st.sampled_from(STAGES), min_size=1, max_size=len(CUSTOMERS)))
def test_the_live_figures_are_the_replayed_ones(stages: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        clock = Clock()
        for site in make_site(Path(directory), clock):
            for stage, customer in zip(stages, CUSTOMERS, strict=False):
                play(site, stage, customer)
            assert_live_is_replayed(site)


def test_report_html_is_one_file_with_every_chart(web: Site, tmp_path: Path) -> None:
    for stage, customer in zip(("approved", "cancelled", "asked"), CUSTOMERS, strict=False):
        play(web, stage, customer)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG_DATA))
    env = {"LEDGER_DATABASE_URL": web.settings.database_url, "LEDGER_CATALOG": str(catalog)}
    path = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--html", str(path)], env=env)
    assert result.exit_code == 0, result.output
    html = path.read_text()
    assert "<style>" in html and "<script" not in html
    assert not re.search(r'(src|href)="', html)  # no asset outside the file
    assert 'aria-label="Claims by state: Migration workshop"' in html
    assert "Payouts approved per month (USD): Migration workshop" in html
    assert "<caption>Claims by state: Data assessment</caption>" in html

    early = tmp_path / "early.html"
    as_of = days(1.5).isoformat()
    result = CliRunner().invoke(
        app, ["report", "--html", str(early), "--as-of", as_of, "--language", "pt-BR"], env=env
    )
    assert result.exit_code == 0, result.output
    text = early.read_text()
    assert '<html lang="pt-BR">' in text and "1 declaração" in text

    bad = CliRunner().invoke(app, ["report", "--html", str(early), "--as-of", "yesterday"], env=env)
    assert bad.exit_code != 0 and "--as-of" in bad.output
