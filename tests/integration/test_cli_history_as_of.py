"""``ledger history CLAIM_ID --as-of T``: the events up to T, then the claim as it stood at T."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.projections.base import ts
from ledger.service.application import open_ledger
from ledger.service.settings import Settings
from tests.factories import consented_claim, days, make_catalog
from tests.integration.test_cli import ledger_cli


def test_history_as_of_a_time(settings: Settings, tmp_path: Path) -> None:
    ledger = open_ledger(settings, make_catalog())
    try:  # added at day 0, consent asked at day 0.5, given at day 1
        claim_id = str(consented_claim(ledger))
    finally:
        ledger.close()
    then = "2026-03-03T04:00:00+01:00"  # day 0.75: 2026-03-03 03:00 UTC
    assert days(0.75).isoformat() == "2026-03-03T03:00:00+00:00"

    text = ledger_cli(settings, "history", claim_id, "--as-of", then, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    then_in_words = "Mar 3, 2026, 3:00\u202fAM UTC"
    assert f"Claim {claim_id} as of {then_in_words}: 2 of 3 events" in out
    assert "#2 Mar 2, 2026, 9:00\u202fPM UTC  Consent requested by ann@a.example" in out
    assert "#3" not in out and "Consent given" not in out
    claim = out.split(f"As of {then_in_words}")[1]
    assert claim.startswith(": Awaiting customer consent response")
    for line in (
        "Customer: Fabrikam",
        "Claim name: Fabrikam",
        "Engagement: E-WS",  # the command runs on the demo catalog, which does not name it
        # 29.25 days before the consent deadline, rounded up
        "Customer consent deadline: Apr 1, 2026, 9:00\u202fAM UTC (30 days left)",
        "Estimated deal size: $20,000.00",
        "Payout: Fixed · $5,000.00",
        "Approved payout: not approved",
    ):
        assert f"    {line}\n" in claim, line
    for raw in ("awaiting_consent", "deal_size_usd", "running_deadline_kind", "20000.00"):
        assert raw not in out, raw

    as_json = ledger_cli(settings, "history", claim_id, "--as-of", then, "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    *events, last = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [e["event"] for e in events] == ["Added", "ConsentRequested"]
    assert last["as_of"] == ts(days(0.75))
    assert (last["claim"]["state"], last["claim"]["days_left"]) == ("awaiting_consent", 30)
    assert last["claim"]["payout_usd"] is None and last["claim"]["had_consent"] is False

    later = ledger_cli(settings, "history", claim_id, "--as-of", days(2).isoformat(), "--json",
                       cwd=tmp_path)  # fmt: skip
    *events, last = [json.loads(line) for line in later.stdout.splitlines()]
    assert len(events) == 3 and last["claim"]["state"] == "consent_received"
    assert last["claim"]["running_deadline"] == ts(days(1 + 90))
    assert last["claim"]["days_left"] == 89  # at day 2

    before = ledger_cli(settings, "history", claim_id, "--as-of", days(-1).isoformat(),
                        cwd=tmp_path)  # fmt: skip
    assert before.returncode == 1
    assert f"claim {claim_id} did not exist yet at Mar 1, 2026, 9:00\u202fAM UTC" in before.stdout


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("soon", "'soon' is not an ISO-8601 date-time"),
        ("2026-03-03T04:00:00", "has no time zone"),
        ("2026-03-03\x01", "is not an ISO-8601 date-time"),
    ],
)
def test_history_as_of_a_bad_time_is_a_clear_error(
    tmp_path: Path, as_of: str, message: str
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    claim_id = "00000000-0000-0000-0000-000000000000"
    result = ledger_cli(settings, "history", claim_id, "--as-of", as_of, cwd=tmp_path)
    assert result.returncode == 2
    assert "--as-of" in result.stderr and message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
