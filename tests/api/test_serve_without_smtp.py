"""A newcomer's `ledger serve --port P`: no SMTP, no public URL; the e-mail lands in mail/."""

from __future__ import annotations

import email
import json
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import httpx

from ledger.domain.access import AccessTokens
from ledger.service.clock import utc_now
from testkit.pgcluster import free_port
from testkit.serving import wait_healthy
from tests.factories import ADMIN_A, CATALOG_DATA, create

KEY = "serve-without-smtp-signing-key-long-enough"


def test_the_consent_email_is_written_beside_the_database_with_a_working_link(
    tmp_path: Path,
) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG_DATA))
    (tmp_path / "elsewhere").mkdir()  # the working directory: not where the mail goes
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
        "LEDGER_CATALOG": str(catalog),
        "LEDGER_SECRET_KEY": KEY,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path / "elsewhere",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        path = request_consent_and_wait_for_the_eml(url, tmp_path / "mail")
        link = check_the_eml(path, url)
        token = link.rsplit("/", 1)[1]
        seen = httpx.get(f"{url}/v1/consent/{token}", timeout=10)
        assert seen.status_code == 200, seen.text
        assert seen.json()["partner_name"] == "Partner A"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert "Traceback" not in stderr, stderr
    mail_lines = [line for line in stderr.splitlines() if " INFO ledger.mail" in line]
    assert len(mail_lines) == 1 and link in mail_lines[0].split(), stderr
    access = [line for line in stderr.splitlines() if " INFO ledger.access" in line]
    assert any(
        re.search(r"POST /v1/claims/\{claim_id\}/consent-request 200 .* request_id=\w+", line)
        for line in access
    ), stderr


def request_consent_and_wait_for_the_eml(url: str, mail_folder: Path) -> Path:
    wait_healthy(url)
    bearer = AccessTokens(KEY).mint(ADMIN_A, timedelta(hours=1), utc_now())
    partner = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {bearer}"})
    created = partner.post("/v1/claims", json=create(["E-WS"]).model_dump(mode="json"))
    assert created.status_code == 201, created.text
    claim_id = created.json()["claims"][0]["claim_id"]
    consent = {"deal_size_usd": "15000.00", "disclaimer_accepted": True}
    asked = partner.post(f"/v1/claims/{claim_id}/consent-request", json=consent)
    assert asked.status_code == 200, asked.text
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        written = list(mail_folder.glob("*.eml"))
        if written:
            (path,) = written
            return path
        time.sleep(0.05)
    raise AssertionError(f"no .eml file in {mail_folder}")


def check_the_eml(path: Path, url: str) -> str:
    """The plain and HTML parts name the partner and the engagement; the link, whole."""
    message = email.message_from_bytes(path.read_bytes(), policy=default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "cio@fabrikam.com"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    text, page = plain.get_content(), html.get_content()
    for part in (text, page):
        assert "Partner A" in part and "Migration workshop" in part and "Fabrikam" in part
    found = re.search(r"http://\S+/consent/\S+", text)
    assert found is not None, text
    link = found.group(0)
    assert link.startswith(f"{url}/consent/")  # the port `ledger serve` listens on
    assert link in path.read_text().splitlines()  # whole, on one line of the file
    assert f'href="{link}"' in page
    return link
