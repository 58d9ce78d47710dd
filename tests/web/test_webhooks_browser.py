"""The Webhooks settings page in a real browser (JavaScript off), on a ``ledger serve`` of
its own that allows loopback receivers: add a webhook, its secret shown once, a real
receiver verifying what the service sends, the delivery log, delete after a confirmation; in
both languages, at a desktop width and at 320 px, axe-clean, with screenshots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from testkit.receiver import Receiver, serving
from testkit.serving import until
from tests.conftest import Inbox
from tests.factories import ADMIN_A, USER_A1, create
from tests.web.browser import LedgerWeb, assert_page_accessible, ledger_serve, sign_in
from tests.web.test_narrow_browser import check

pytestmark = pytest.mark.browser
HOME = "/settings/webhooks"


@pytest.fixture(scope="module")
def hooks_web(
    tmp_path_factory: pytest.TempPathFactory, session_smtp: tuple[Inbox, int]
) -> Iterator[LedgerWeb]:
    """A ``ledger serve`` of this module's own (as ``own_web``), with loopback webhook
    addresses allowed: its receiver is a server on this machine."""
    folder = tmp_path_factory.mktemp("hooks-web")
    with ledger_serve(folder, session_smtp, {"LEDGER_WEBHOOKS_ALLOW_INSECURE": "1"}) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver()) as running:
        yield running


def look(page: Page, name: str) -> None:
    assert_page_accessible(page)
    check(page, name)


def test_an_admin_adds_a_webhook_sees_its_deliveries_and_deletes_it(
    page: Page, hooks_web: LedgerWeb, receiver: Receiver
) -> None:
    sign_in(page, hooks_web, ADMIN_A)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    assert page.url.endswith(HOME)
    look(page, "webhooks-empty")
    page.get_by_label("Address").fill(receiver.url)
    page.get_by_role("button", name="Add the webhook").click()
    page.get_by_role("heading", name="Webhook added").wait_for()
    receiver.secret = page.locator("#secret").inner_text().strip()
    assert receiver.secret.startswith("whsec_")
    look(page, "webhook-added")
    with hooks_web.api(ADMIN_A) as api:
        made = api.post("/v1/claims", json=create(["E-WS"]).model_dump(mode="json"))
        assert made.status_code == 201, made.text
    (arrived,) = until(receiver.acknowledged)
    assert arrived.body["type"] == "Added" and arrived.verified
    page.get_by_role("link", name="See its deliveries").click()
    assert "Delivered" in page.get_by_role("table").inner_text()
    look(page, "webhook-deliveries")
    page.goto(hooks_web.url + HOME)
    assert receiver.url in page.get_by_role("table").inner_text()
    assert "whsec_" not in page.content()  # the secret was shown once
    look(page, "webhooks-list")
    page.get_by_role("link", name=receiver.url).click()
    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("heading", name="Are you sure?").wait_for()
    look(page, "webhook-delete")
    page.get_by_role("button", name="Delete the webhook").click()
    page.get_by_text("No webhook yet.").wait_for()


def test_the_page_in_portuguese_and_its_refusals(page: Page, hooks_web: LedgerWeb) -> None:
    sign_in(page, hooks_web, ADMIN_A)
    page.goto(hooks_web.url + HOME)
    page.get_by_role("link", name="Português (Brasil)").click()
    page.get_by_role("heading", name="Webhooks", exact=True).wait_for()
    page.get_by_label("Endereço").fill("ftp://example.com/x")
    page.get_by_role("button", name="Adicionar o webhook").click()
    assert "Informe o endereço como uma URL completa" in page.locator("#url-error").inner_text()
    look(page, "webhooks-refused-pt")


def test_an_incentives_user_has_no_webhooks(page: Page, hooks_web: LedgerWeb) -> None:
    sign_in(page, hooks_web, USER_A1)
    assert page.get_by_role("link", name="Webhooks").count() == 0
    response = page.goto(hooks_web.url + HOME)
    assert response is not None and response.status == 403
