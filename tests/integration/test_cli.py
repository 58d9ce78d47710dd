"""The command line as an operator runs it: a real process on a real store."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from ledger.domain.access import AccessTokens
from ledger.domain.principal import Role
from ledger.service.application import open_ledger
from ledger.service.settings import Settings
from testkit.pgcluster import free_port
from testkit.serving import wait_healthy
from tests.factories import ADMIN_A, FABRIKAM, create, days, make_catalog


def ledger_cli(settings: Settings, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url, "COLUMNS": "200"}
    if settings.secret_key:
        env["LEDGER_SECRET_KEY"] = settings.secret_key
    if settings.checkpoint_key:
        env["LEDGER_CHECKPOINT_KEY"] = settings.checkpoint_key
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_history_and_expire_due(settings: Settings, tmp_path: Path) -> None:
    demo = ledger_cli(settings, "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "The customer has reached its limit of claims. (R10)" in " ".join(demo.stdout.split())
    assert "claim-limit-reached" not in demo.stdout  # the demo's story is told in words
    assert "Approved" in demo.stdout and "Rejected final" in demo.stdout
    claim_id = demo.stdout.split("ledger history ")[1].split()[0]
    tokens = demo.stdout.split("Tokens to try")[1]
    assert "ledger token --user alice@contoso.example --partner P-CONTOSO" in tokens
    assert "--role incentives_user --location LOC-2001" in tokens

    history = ledger_cli(settings, "history", claim_id, "--json", cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    events = [json.loads(line) for line in history.stdout.splitlines()]
    # The policies follow the demo as they follow the service: a referral (R40) after the
    # consent request, co-sell (R42, Fabrikam is managed) after the consent.
    assert [e["event"] for e in events][:5] == [
        "Added", "ConsentRequested", "ReferralCreated", "ConsentGiven", "UpgradedToCoSell"
    ]  # fmt: skip
    assert events[-1]["event"] == "Approved"
    assert events[0]["actor"]["id"] == "alice@contoso.example"
    assert (events[2]["actor"]["kind"], events[3]["actor"]["kind"]) == ("system", "customer")

    readable = ledger_cli(settings, "history", claim_id, cwd=tmp_path).stdout
    assert "Customer added and claimed by alice@contoso.example: customer Fabrikam;" in readable
    assert "Consent given by the customer (" in readable and "Claim approved by " in readable
    assert "Referral opened by the system: referral " in readable
    assert "deal size $" in readable and "payout $5,000.00" in readable
    for raw in ("ConsentGiven", "eligibility_key", "deadline_days", "link_id", "(user)", "T00:"):
        assert raw not in readable, raw

    again = ledger_cli(settings, "demo", cwd=tmp_path)
    assert again.returncode == 0 and "already holds claims" in again.stdout
    assert "ledger token --user rita@programme.example --role reviewer" in again.stdout

    first = ledger_cli(settings, "expire-due", "--now", "2100-01-01T00:00:00Z", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("1 claim(s) expired")  # the AI pilot awaiting information
    second = ledger_cli(settings, "expire-due", "--now", "2100-01-01T00:00:00Z", cwd=tmp_path)
    assert second.stdout.startswith("0 claim(s) expired")


def test_workers_replay_and_report(settings: Settings, tmp_path: Path) -> None:
    assert ledger_cli(settings, "demo", cwd=tmp_path).returncode == 0
    workers = ledger_cli(settings, "workers", "--once", cwd=tmp_path)
    assert workers.returncode == 0, workers.stderr
    assert "lag 0 events" in workers.stdout

    replay = ledger_cli(settings, "replay", cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    assert "events/s" in replay.stdout and "generation 2" in replay.stdout

    report = ledger_cli(settings, "report", "--csv", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    assert lines[0] == "engagement_id,state,claims,deal_size_usd,payout_usd"  # nothing before
    rows = {tuple(line.split(",")[:3]) for line in lines[1:]}
    assert ("ENG-AZ-MIGRATE-WS", "approved", "1") in rows
    assert ("ENG-DATA-ASSESS", "rejected_final", "1") in rows
    assert sum(int(line.split(",")[2]) for line in lines[1:]) == 6
    approved = next(line for line in lines[1:] if ",approved," in line)
    assert approved.endswith(",5000.00")

    table = ledger_cli(settings, "report", cwd=tmp_path)
    assert "Claims by engagement and state" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["history", "not-a-uuid"], "is not a claim id"),
        (["history", "00000000-0000-0000-0000-000000000000"], "no claim"),
        (["expire-due", "--now", "yesterday"], "is not an ISO-8601"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    result = ledger_cli(settings, *args, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_catalog_stops_start_up_naming_file_and_field(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("engagements: []\npartners:\n  - {id: P, name: P, locations: nope}\n")
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        "LEDGER_CATALOG": str(catalog),
    }
    result = subprocess.run(
        [sys.executable, "-m", "cli", "expire-due"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert str(catalog) in result.stderr and "partners[0].locations" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LEDGER_SECRET_KEY", "short", "LEDGER_SECRET_KEY"),
        ("LEDGER_DATABASE_URL", "mysql://db", "LEDGER_DATABASE_URL"),
    ],
)
def test_bad_settings_stop_start_up_with_a_clear_message(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        variable: value,
    }
    result = subprocess.run(
        [sys.executable, "-m", "cli", "token", "--user", "u", "--role", "auditor"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_token_prints_a_bearer_token_the_api_accepts(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    result = ledger_cli(
        settings,
        *("token", "--user", "ulf", "--partner", "P-A", "--role", "incentives_user"),
        *("--location", "LOC-A1", "--location", "LOC-A2", "--ttl", "60"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    principal = AccessTokens(settings.signing_key()).principal(result.stdout.strip())
    assert (principal.user_id, principal.partner_id) == ("ulf", "P-A")
    assert principal.roles == {Role.INCENTIVES_USER}
    assert principal.locations == {"LOC-A1", "LOC-A2"}
    refused = ledger_cli(
        settings, "token", "--user", "u", "--role", "incentives_admin", cwd=tmp_path
    )
    assert refused.returncode != 0 and "--partner" in refused.stdout + refused.stderr


def test_forget_erases_a_contact_of_the_demo(settings: Settings, tmp_path: Path) -> None:
    demo = ledger_cli(settings, "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    claim_id = demo.stdout.split("ledger history ")[1].split()[0]
    history = ledger_cli(settings, "history", claim_id, "--json", cwd=tmp_path)
    given = next(json.loads(line) for line in history.stdout.splitlines() if "ConsentGiven" in line)
    email = given["actor"]["id"]
    assert "@" in email

    forgotten = ledger_cli(settings, "forget", "--email", email.upper(), cwd=tmp_path)
    assert forgotten.returncode == 0, forgotten.stderr
    assert "erased the contact of key" in forgotten.stdout and email not in forgotten.stdout
    after = ledger_cli(settings, "history", claim_id, "--json", cwd=tmp_path).stdout
    assert email not in after and '"id": "[erased]"' in after
    readable = ledger_cli(settings, "history", claim_id, cwd=tmp_path).stdout
    assert "Consent given by the customer ([erased])" in readable
    assert "customer contact [erased];" in readable and email not in readable

    again = ledger_cli(settings, "forget", "--email", email, cwd=tmp_path)
    assert again.returncode == 1 and "No contact with this e-mail address" in again.stderr
    assert "Traceback" not in again.stderr
    wrong = ledger_cli(settings, "forget", "--email", "not-an-address", cwd=tmp_path)
    assert wrong.returncode == 2 and "is not an e-mail address" in wrong.stderr


def test_history_prints_recorded_text_as_it_is(settings: Settings, tmp_path: Path) -> None:
    """Brackets in what a partner typed are text, not terminal markup."""
    ledger = open_ledger(settings, make_catalog())
    try:
        (claim_id,) = ledger.create_claims(
            ADMIN_A, create(name="Litware [/x] [bold]", value=FABRIKAM), days(0)
        )
    finally:
        ledger.close()
    run = ledger_cli(settings, "history", str(claim_id), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "claim name Litware [/x] [bold]" in " ".join(run.stdout.split())


# -- what an operator reads when the service cannot start or stops --------------------------


def unreachable(tmp_path: Path) -> Settings:
    """A PostgreSQL URL, with a password, on a port nothing listens on."""
    return Settings(
        database_url=f"postgresql://ledger:s3cret-pw@127.0.0.1:{free_port()}/claims",
        secret_key="k" * 40,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["serve"],
        ["serve", "--processes", "2"],
        ["verify"],
        ["history", "00000000-0000-0000-0000-000000000000"],
        ["replay"],
        ["forget", "--email", "dana@example.com"],
    ],
)
def test_an_unreachable_store_is_one_line_naming_it_without_its_password(
    tmp_path: Path, args: list[str]
) -> None:
    settings = unreachable(tmp_path)
    result = ledger_cli(settings, *args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    said = (result.stdout + result.stderr).strip()
    assert len(said.splitlines()) == 1, said
    shown = settings.database_url.replace(":s3cret-pw", "")
    assert said.startswith(f"cannot reach the store {shown}: check that PostgreSQL runs there")
    assert "s3cret-pw" not in said and "Traceback" not in said


def test_migrate_names_the_new_store_it_cannot_reach(tmp_path: Path) -> None:
    source = Settings(database_url=f"sqlite:///{tmp_path / 'old.sqlite3'}")
    target = unreachable(tmp_path)
    result = ledger_cli(source, "migrate", "--to", target.database_url, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    said = result.stderr.strip()
    assert said.startswith(f"cannot reach the store {target.database_shown}:"), said
    assert "--to names the right host" in said and "s3cret-pw" not in said


def test_the_database_url_is_shown_without_its_password() -> None:
    shown = {
        "postgresql://u:pw@db.example:5433/claims": "postgresql://u@db.example:5433/claims",
        "postgresql://u:p%40ss@[::1]/claims": "postgresql://u@[::1]/claims",
        "postgresql://:pw@db.example/claims?sslmode=require": "postgresql://db.example/claims?sslmode=require",
        "postgresql://u@db.example/claims": "postgresql://u@db.example/claims",
        "sqlite:///./ledger.sqlite3": "sqlite:///./ledger.sqlite3",
    }  # fmt: skip
    for url, expected in shown.items():
        assert Settings(database_url=url).database_shown == expected


def test_serve_logs_one_line_when_sigterm_stops_it(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", serve, log.read_text)
    finally:
        serve.terminate()  # SIGTERM
        returned = serve.wait(timeout=30)
    said = log.read_text()
    stops = [line for line in said.splitlines() if "stopped" in line]
    assert len(stops) == 1, said
    assert "INFO ledger.serve: stopped on SIGTERM" in stops[0]
    assert returned == 0 and "Traceback" not in said


def test_no_help_text_loses_its_square_brackets() -> None:
    """Typer reads a command's help as rich markup, where [erased] is a tag: it is escaped
    (\\[erased]); every command's help shows its docstring's words as written."""
    runner = CliRunner()
    for command in app.registered_commands:
        assert command.callback is not None
        name = command.name or command.callback.__name__.replace("_", "-")
        shown = runner.invoke(app, [name, "--help"], env={"COLUMNS": "2000"}, color=False)
        assert shown.exit_code == 0, shown.output
        written = " ".join((inspect.getdoc(command.callback) or "").split())
        assert written.replace("\\[", "[") in " ".join(shown.output.split()), name
    forget = runner.invoke(app, ["forget", "--help"], env={"COLUMNS": "2000"}, color=False)
    assert "address read [erased] everywhere" in forget.output
