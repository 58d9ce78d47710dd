"""The dashboard, the programme page and the HTML report in Chromium (SPEC 13): every chart
and its table at 320 px and at a desktop width, in both languages, axe-core on each page;
the report opened from disk with every network request blocked makes none."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from ledger.domain.principal import Principal
from testkit.serving import until
from tests.conftest import text_of
from tests.factories import ADMIN_A, ALL_PROOF, FABRIKAM, NORTHWIND, REVIEWER, SUB1, create
from tests.web.browser import DESKTOP, KEY, NARROW, LedgerWeb, assert_page_accessible, shot
from tests.web.test_narrow_browser import check, signed_in, visit

pytestmark = pytest.mark.browser
LANGUAGES = ("en", "pt-BR")


@pytest.fixture(scope="module")
def data(own_web: LedgerWeb) -> dict[str, str]:
    """Partner A's workshop for Fabrikam approved, its subscription's claim waiting for
    information (attention required), Northwind's just added."""
    api, anyone = own_web.api, own_web.api()

    def ok(response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    def new(kind: str, value: str, email: str) -> str:
        body = create(["E-WS"], id_type=kind, value=value, customer_email=email)
        made = ok(api(ADMIN_A).post("/v1/claims", json=body.model_dump(mode="json")), 201)
        return str(made["claims"][0]["claim_id"])

    def submitted(claim_id: str, email: str) -> None:
        asked = {"deal_size_usd": "15000.00", "disclaimer_accepted": True}
        ok(api(ADMIN_A).post(f"/v1/claims/{claim_id}/consent-request", json=asked))
        mail = until(lambda: next((m for m in own_web.inbox.messages if m["To"] == email), None))
        token = re.search(r"/consent/(\S+)", text_of(mail))
        assert token is not None
        ok(anyone.post(f"/v1/consent/{token.group(1)}", json={"decision": "accept"}))
        proof = {"proof": [{"kind": k, "reference": f"{k}.pdf"} for k in ALL_PROOF]}
        ok(api(ADMIN_A).post(f"/v1/claims/{claim_id}/submission", json=proof))
        ok(api(REVIEWER).post(f"/v1/claims/{claim_id}/review", json={"action": "start"}))

    approved = new("tenant_id", FABRIKAM, "charts@fabrikam.com")
    submitted(approved, "charts@fabrikam.com")
    ok(api(REVIEWER).post(f"/v1/claims/{approved}/review", json={"action": "approve"}))
    waiting = new("azure_subscription_id", SUB1, "charts-sub@fabrikam.com")
    submitted(waiting, "charts-sub@fabrikam.com")
    asked = {"action": "request_information", "reason": "The invoice is unreadable."}
    ok(api(REVIEWER).post(f"/v1/claims/{waiting}/review", json=asked))
    new("tenant_id", NORTHWIND, "charts@northwind.com")
    return {"approved": approved, "waiting": waiting}


@pytest.fixture
def narrow(browser: Browser, own_web: LedgerWeb) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=True, viewport=NARROW)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("principal", "path"), [(ADMIN_A, "/dashboard"), (REVIEWER, "/programme")])
def test_each_chart_and_its_table_fit_and_are_accessible(
    narrow: Page,
    own_web: LedgerWeb,
    data: dict[str, str],
    principal: Principal,
    path: str,
    language: str,
) -> None:
    signed_in(narrow, own_web, principal, language)
    visit(narrow, own_web.url + path)
    charts = narrow.locator("svg[role=img]")
    assert charts.count() >= 2
    for index in range(charts.count()):
        assert charts.nth(index).get_attribute("aria-label")
        assert charts.nth(index).bounding_box() is not None
    if path == "/dashboard":
        assert narrow.locator(f'a[href="/claims/{data["waiting"]}"]').count() == 1
    check(narrow, f"charts{path.replace('/', '-')}-{language}")
    assert_page_accessible(narrow)


def test_the_report_file_opens_offline(
    browser: Browser, own_web: LedgerWeb, data: dict[str, str], tmp_path: Path
) -> None:
    directory = own_web.log.parent
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"sqlite:///{directory / 'ledger.sqlite3'}",
        "LEDGER_CATALOG": str(directory / "catalog.json"),
        "LEDGER_SECRET_KEY": KEY,
    }
    for language in LANGUAGES:
        path = tmp_path / f"report-{language}.html"
        made = subprocess.run(
            [sys.executable, "-m", "cli", "report", "--html", str(path), "--language", language],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        requests = open_offline(browser, path, f"report-{language}")
        assert requests == [path.as_uri()]


def open_offline(browser: Browser, path: Path, name: str) -> list[str]:
    """Open ``path`` with every request but the file's own aborted; the requests made."""
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    made: list[str] = []

    def only_the_file(route: Route) -> None:
        made.append(route.request.url)
        if route.request.url == path.as_uri():
            route.continue_()
        else:
            route.abort()

    try:
        page = context.new_page()
        page.route("**/*", only_the_file)
        page.goto(path.as_uri())
        assert page.locator("svg[role=img]").count() >= 2
        assert page.locator("table caption").count() >= 3
        shot(page, f"charts-{name}")
    finally:
        context.close()
    return made
