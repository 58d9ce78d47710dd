"""``ledger verify`` as an operator runs it: exit codes and what it says, on both stores."""

from __future__ import annotations

import re
from pathlib import Path

from ledger.audit.tamper import LogDigests
from ledger.projections.store import ViewStore
from ledger.runtime.verifications import Verifications, Verified
from ledger.service.application import open_ledger
from ledger.service.settings import Settings
from tests.factories import consented_claim, make_catalog
from tests.integration.test_cli import ledger_cli
from tests.integration.test_tamper import Table, more


def digest_now(settings: Settings) -> tuple[int, str]:
    ledger = open_ledger(settings, make_catalog())
    try:
        found = LogDigests.of(ledger).extend()
    finally:
        ledger.close()
    return found.at, found.digest.hex()


def last_verification(settings: Settings) -> Verified | None:
    store = ViewStore.open(settings.eventsourcing_env())
    try:
        return Verifications(store).last()
    finally:
        store.close()


def test_verify_an_untouched_log_then_a_tampered_one(settings: Settings, tmp_path: Path) -> None:
    assert ledger_cli(settings, "demo", cwd=tmp_path).returncode == 0
    done = ledger_cli(settings, "verify", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    events = int(re.search(r"verified ([\d,]+) events", done.stdout).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert events > 40 and "events/s" in done.stdout
    assert "every stored log digest matches" in done.stdout
    at, digest = digest_now(settings)
    assert f"log digest at notification {at} (SHA-256 chained over the hash of every event" in (
        done.stdout
    )
    assert digest in done.stdout
    recorded = last_verification(settings)  # verify records what it found, for /audit
    assert recorded and recorded.ok and recorded.events == events and recorded.findings == 0

    proved = ledger_cli(settings, "verify", "--digest", digest, "--at", str(at), cwd=tmp_path)
    assert proved.returncode == 0, proved.stdout
    assert f"the log up to notification {at} is the one whose log digest was {digest}" in (
        proved.stdout
    )
    wrong = "0" * 64
    unproved = ledger_cli(settings, "verify", "--digest", wrong, "--at", str(at), cwd=tmp_path)
    assert unproved.returncode == 1
    assert f"NOT PROVEN the log up to notification {at} is not the one" in unproved.stdout

    ledger = open_ledger(settings, make_catalog())
    try:
        table = Table(ledger, settings)
        target = table.rows()[7]
        table.set_state(target.notification_id, target.state.replace(b"}", b" }", 1))
    finally:
        ledger.close()
    failed = ledger_cli(settings, "verify", cwd=tmp_path)
    assert failed.returncode == 1
    assert (
        f"MISMATCH notification {target.notification_id} (originator {target.originator_id}, "
        f"version {target.version}): hash mismatch"
    ) in failed.stdout
    assert "every stored log digest matches" not in failed.stdout
    recorded = last_verification(settings)
    assert recorded and not recorded.ok and recorded.findings >= 1
    # The digest proof fails too now: the event is before the notification it was taken at.
    again = ledger_cli(settings, "verify", "--digest", digest, "--at", str(at), cwd=tmp_path)
    assert again.returncode == 1 and "NOT PROVEN" in again.stdout


def test_verify_an_empty_log(settings: Settings, tmp_path: Path) -> None:
    done = ledger_cli(settings, "verify", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified 0 events" in done.stdout
    assert "log digest of the empty log (32 zero bytes): " + "0" * 64 in done.stdout


def test_bad_input_exits_2_with_a_message(settings: Settings, tmp_path: Path) -> None:
    ledger = open_ledger(settings, make_catalog())
    try:
        consented_claim(ledger)
        more(ledger)
    finally:
        ledger.close()
    at, digest = digest_now(settings)
    cases = [
        (["--digest", "xyz", "--at", "1"], "64 hexadecimal digits"),
        (["--digest", "g" * 64, "--at", "1"], "64 hexadecimal digits"),
        (["--digest", digest], "--digest and --at go together"),
        (["--at", "3"], "--digest and --at go together"),
        (["--digest", digest, "--at", "0"], "Invalid value for '--at'"),
        (["--digest", digest, "--at", "nine"], "Invalid value for '--at'"),
        (["--digest", digest, "--at", str(at + 1000)], f"notification {at + 1000} is not in"),
    ]
    for args, message in cases:
        run = ledger_cli(settings, "verify", *args, cwd=tmp_path)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert message in run.stdout + run.stderr, (args, run.stdout, run.stderr)
        assert "Traceback" not in run.stdout + run.stderr


def test_a_store_made_before_the_hashes_is_refused(settings: Settings, tmp_path: Path) -> None:
    ledger = open_ledger(settings, make_catalog())
    try:
        Table(ledger, settings).execute(
            f"ALTER TABLE {Table(ledger, settings).name} DROP COLUMN hash"
        )
    finally:
        ledger.close()
    run = ledger_cli(settings, "verify", cwd=tmp_path)
    assert run.returncode == 2
    assert "was made before events carried hashes" in run.stderr
    assert "ledger migrate --to DATABASE_URL" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr
