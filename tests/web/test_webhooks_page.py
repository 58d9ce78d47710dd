"""The Webhooks settings page (incentives admins): add a webhook (its secret shown once),
the list, a refused address said in words next to its field, the delivery log with Retry for
a failed delivery, Delete after a confirmation; other roles 403, another partner's 404."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from httpx import Response

from testkit.pgcluster import free_port
from tests.factories import ADMIN_A, ADMIN_B, USER_A1, create
from tests.web.client import Site, forms

HOME = "/settings/webhooks"


@pytest.fixture
def hooks_site(site: Site) -> Site:
    """The site with loopback targets allowed (LEDGER_WEBHOOKS_ALLOW_INSECURE=1)."""
    allowed = site.settings.model_copy(update={"webhooks_allow_insecure": True})
    site.services.workers.webhooks.subscriptions.settings = allowed
    site.services.workers.webhooks.sender.allow_insecure = True
    return site


def add(site: Site, url: str, events: list[str] | None = None) -> Response:
    form = site.form(site.get(HOME), HOME)
    return site.post(HOME, form.data(None, {"url": url, "events": events or ["*"]}))


def test_an_admin_adds_a_webhook_and_sees_its_secret_once(hooks_site: Site) -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks"
    made = add(hooks_site, url, ["ConsentGiven", "Approved"])
    assert made.status_code == 201, made.text
    assert "whsec_" in made.text and "shown only this once" in made.text
    listed = hooks_site.get(HOME)
    assert url in listed.text and "whsec_" not in listed.text and "Active" in listed.text
    assert "<code>Approved</code>, <code>ConsentGiven</code>" in listed.text


def test_the_same_form_posted_twice_adds_one_webhook(hooks_site: Site) -> None:
    form = hooks_site.form(hooks_site.get(HOME), HOME)
    data = form.data(None, {"url": f"http://127.0.0.1:{free_port()}/x", "events": ["*"]})
    first, second = hooks_site.post(HOME, data), hooks_site.post(HOME, data)
    assert first.status_code == second.status_code == 201
    secrets = [re.findall(r"whsec_[A-Za-z0-9+/=]+", r.text) for r in (first, second)]
    assert secrets[0] == secrets[1] and len(secrets[0]) == 1
    assert len(hooks_site.services.workers.webhooks.subscriptions.subscriptions(ADMIN_A)) == 1


def test_an_address_the_ledger_may_not_call_is_said_next_to_its_field(site: Site) -> None:
    refused = add(site, "http://127.0.0.1:9/hooks")
    assert refused.status_code == 422
    text = refused.text
    assert "must start with https://" in text and 'id="url-error"' in text
    assert "webhook-url" not in text
    pt = site.post(
        HOME,
        site.form(site.get(HOME), HOME).data(None, {"url": "https://10.0.0.1/", "events": ["*"]}),
        headers={"Accept-Language": "pt-BR"},
    )
    assert pt.status_code == 422 and "rede privada" in pt.text


def test_the_delivery_log_retries_a_failed_delivery_and_delete_asks_first(
    hooks_site: Site,
) -> None:
    add(hooks_site, f"http://127.0.0.1:{free_port()}/hooks")  # nothing listens: all fail
    hooks = hooks_site.services.workers.webhooks
    (made,) = hooks.subscriptions.subscriptions(ADMIN_A)
    hooks_site.services.ledger.create_claims(ADMIN_A, create(), hooks_site.clock.now)
    for _ in range(200):
        hooks.run_once()
        hooks_site.clock.now += timedelta(hours=1)
        if "Failed" in hooks_site.get(f"{HOME}/{made.id}").text:
            break
    log = hooks_site.get(f"{HOME}/{made.id}")
    assert "Failed" in log.text and "The receiver could not be reached." in log.text
    assert "Disabled since" in log.text
    (retry,) = [f for f in forms(log.text) if f.action.endswith("/retry")]
    again = hooks_site.post(retry.action, retry.data())
    assert again.status_code == 303
    shown = hooks_site.get(f"{HOME}/{made.id}").text
    assert "Waiting to try again" in shown and "Active" in shown
    delete = hooks_site.form(shown, f"{HOME}/{made.id}/delete")
    asked = hooks_site.post(delete.action, delete.data())
    assert asked.status_code == 200 and "Are you sure?" in asked.text
    confirm = hooks_site.form(asked, f"{HOME}/{made.id}/delete")
    gone = hooks_site.post(confirm.action, confirm.data())
    assert gone.status_code == 303 and made.url not in hooks_site.get(HOME).text


def test_other_roles_are_refused_and_another_partners_webhook_is_not_found(
    hooks_site: Site,
) -> None:
    add(hooks_site, f"http://127.0.0.1:{free_port()}/hooks")
    (made,) = hooks_site.services.workers.webhooks.subscriptions.subscriptions(ADMIN_A)
    hooks_site.sign_in(ADMIN_B)
    assert hooks_site.get(f"{HOME}/{made.id}").status_code == 404
    assert made.url not in hooks_site.get(HOME).text
    hooks_site.sign_in(USER_A1)
    assert hooks_site.get(HOME).status_code == 403
    assert "/settings/webhooks" not in hooks_site.get("/claims").text
