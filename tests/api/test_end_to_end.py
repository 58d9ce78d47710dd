"""`ledger serve` as a process: the whole lifecycle over HTTP, consent through the e-mailed link."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.domain.access import AccessTokens
from ledger.domain.principal import Principal, Role
from ledger.service.clock import utc_now
from testkit.pgcluster import free_port
from testkit.serving import until, wait_healthy
from tests.conftest import Inbox, text_of
from tests.factories import ADMIN_A, ALL_PROOF, CATALOG_DATA, REVIEWER, create

KEY = "end-to-end-signing-key-long-enough-for-hs256"
REFERRAL_ADMIN_A = Principal("ria@a.example", "P-A", frozenset({Role.REFERRAL_ADMIN}))


@pytest.fixture
def service(tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[str]:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG_DATA))
    port = free_port()
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
        "LEDGER_CATALOG": str(catalog),
        "LEDGER_SECRET_KEY": KEY,
        "LEDGER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LEDGER_SMTP_HOST": "127.0.0.1",
        "LEDGER_SMTP_PORT": str(smtp[1]),
        "LEDGER_MAIL_FROM": "claims@ledger.example",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
        assert "Get a token: ledger token" in output
        assert "Traceback" not in output, output


def test_the_whole_lifecycle_over_http(service: str, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    tokens = AccessTokens(KEY)

    def client(principal: Principal | None) -> httpx.Client:
        headers = {}
        if principal is not None:
            headers["Authorization"] = "Bearer " + tokens.mint(
                principal, timedelta(hours=1), utc_now()
            )
        return httpx.Client(base_url=service, headers=headers, timeout=10)

    partner, reviewer, customer = client(ADMIN_A), client(REVIEWER), client(None)

    def ok(response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    created = ok(partner.post("/v1/claims", json=create(["E-WS"]).model_dump(mode="json")), 201)
    claim_id = created["claims"][0]["claim_id"]
    path = f"/v1/claims/{claim_id}"
    ok(
        partner.post(
            f"{path}/consent-request",
            json={"deal_size_usd": "15000.00", "disclaimer_accepted": True},
        )
    )

    referral = until(lambda: ok(partner.get(path))["referral"])  # the referral policy ran
    message = until(lambda: inbox.messages[-1] if inbox.messages else None)
    body = text_of(message)
    link = re.search(r"(http://\S+/consent/(\S+))", body)
    assert link is not None and link.group(1).startswith(service)
    token = link.group(2)
    assert ok(customer.get(f"/v1/consent/{token}"))["answerable"] is True
    assert (
        ok(customer.post(f"/v1/consent/{token}", json={"decision": "accept"}))["state"]
        == "consent_received"
    )

    until(lambda: ok(partner.get(path))["referral"]["co_sell"])  # the co-sell policy ran
    proof = {"proof": [{"kind": k, "reference": f"{k}.pdf"} for k in ALL_PROOF]}
    ok(partner.post(f"{path}/submission", json=proof))
    ok(reviewer.post(f"{path}/review", json={"action": "start"}))
    ok(reviewer.post(f"{path}/review", json={"action": "reject", "reason": "survey unsigned"}))
    ok(partner.post(f"{path}/dispute", json={"reason": "signed survey attached"}))
    ok(partner.post(f"{path}/submission", json=proof))
    ok(reviewer.post(f"{path}/review", json={"action": "start"}))
    approved = ok(reviewer.post(f"{path}/review", json={"action": "approve"}))
    assert (approved["state"], approved["payout_usd"]) == ("approved", "5000.00")

    # Another user's write: the partner's read does not wait for it, the workers apply it
    # within moments (the reviewer's answer said where: Ledger-Position, for who needs it).
    completed = until(
        lambda: ok(partner.get("/v1/engagements/E-WS/customers", params={"tab": "completed"}))[
            "items"
        ]
    )
    assert [i["claim_id"] for i in completed] == [claim_id]
    assert (
        ok(partner.get("/v1/engagements/E-WS/customers", params={"tab": "eligible"}))["items"] == []
    )
    ineligible = ok(partner.get("/v1/engagements/E-WS/customers", params={"tab": "ineligible"}))
    assert [(i["friendly_name"], i["reasons"]) for i in ineligible["items"]] == [
        ("Fabrikam", ["claim-limit-reached"])
    ]

    events = [h["event"] for h in ok(partner.get(f"{path}/history"))]
    assert events == [
        "Added", "ConsentRequested", "ReferralCreated", "ConsentGiven", "UpgradedToCoSell",
        "Submitted", "ReviewStarted", "Rejected", "Disputed", "Submitted", "ReviewStarted",
        "Approved",
    ]  # fmt: skip

    opened = ok(client(REFERRAL_ADMIN_A).get(referral["link"]))
    assert (opened["claim_id"], opened["deal_value_usd"]) == (claim_id, "15000.00")
    assert len([m for m in inbox.messages if m["To"] == "cio@fabrikam.com"]) == 1

    # The partner contact heard of each step: consent given, rejected, approved.
    def to_partner() -> list[str] | None:
        subjects = [str(m["Subject"]) for m in inbox.messages if m["To"] == "pat@a.example"]
        return subjects if len(subjects) >= 3 else None

    assert until(to_partner) == [
        "Fabrikam gave consent: Fabrikam",
        "Claim rejected: Fabrikam",
        "Claim approved: Fabrikam",
    ]
