"""A backup taken as docs/operations.md says (the database with pg_dump, the documents
folder, the keys kept apart), restored into a fresh database: `ledger verify` passes, the log
extends a checkpoint signed before the backup, a replay gives the views the original had and
the contacts still read. Restored without the key ring, `ledger verify` names every contact
that can no longer be read. On SQLite: the online backup of the file, with its key files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cli.site import create_app
from ledger.domain.access import AccessTokens
from ledger.domain.principal import Principal, Role
from ledger.runtime.bootstrap import bootstrap
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from testkit.pgcluster import create_database, drop_database, pg_tool
from testkit.views import view_snapshot
from tests.conftest import CHECKPOINT_KEY
from tests.documents import PDF

SECRET_KEY = "a-test-signing-key-that-is-long-enough-for-hs256"
PUBLIC_URL = "https://ledger.example.com"
CONTOSO = Principal("alice@contoso.example", "P-CONTOSO", frozenset({Role.INCENTIVES_ADMIN}))
ERASED_CONTACT = "data@tailspintoys.com"  # the demo's Tailspin AI pilot's customer contact
LOST_KEY = "is not in the key ring (the contact_keys table) and was never erased"


def ledger_cli(settings: Settings, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`ledger ARGS` as an operator runs it, with these settings and no other LEDGER_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {
        "COLUMNS": "300",
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_DOCUMENTS_DIR": str(settings.documents_directory()),
        "LEDGER_MAIL_DIR": str(settings.mail_directory()),
        "LEDGER_PUBLIC_URL": settings.public_url,
    }
    if settings.secret_key is not None:
        env["LEDGER_SECRET_KEY"] = settings.secret_key
    if settings.checkpoint_key is not None:
        env["LEDGER_CHECKPOINT_KEY"] = settings.checkpoint_key
    command = [sys.executable, "-m", "cli", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=180)


def said(run: subprocess.CompletedProcess[str], code: int = 0) -> str:
    """What the command printed, in one line, once it exited with ``code``."""
    assert run.returncode == code, run.stdout + run.stderr
    return " ".join(run.stdout.split())


def tool(*args: str | Path) -> None:
    run = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


@dataclass
class Original:
    settings: Settings
    folder: Path
    views: dict[str, list[dict[str, Any]]]
    document_claim: str
    contact_claim: str
    contact: str
    token: str
    """A bearer token signed before the backup: the restored secret key must accept it."""


def in_folder(database_url: str, folder: Path, **keys: str) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    return Settings(
        database_url=database_url,
        documents_dir=folder / "documents",
        mail_dir=folder / "mail",
        public_url=PUBLIC_URL,
        **keys,  # type: ignore[arg-type]
    )


def views_of(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every view's rows (contacts opened, as a read shows them)."""
    services = bootstrap(settings)
    try:
        return view_snapshot(services.workers)
    finally:
        services.close()


def bearer(settings: Settings) -> str:
    return AccessTokens(settings.signing_key()).mint(CONTOSO, timedelta(hours=1), utc_now())


def upload_a_document(settings: Settings) -> tuple[str, str, str]:
    """A proof document uploaded over HTTP to the demo's claim waiting for the partner; the
    ids of that claim and of another, and the other's customer contact."""
    auth = {"Authorization": f"Bearer {bearer(settings)}"}
    with TestClient(create_app(settings, run_workers=False)) as client:
        claims = client.get("/v1/claims?limit=100", headers=auth).json()["items"]
        waiting = next(c["claim_id"] for c in claims if c["state"] == "partner_action_required")
        upload = client.post(
            f"/v1/claims/{waiting}/documents",
            files={"file": ("invoice.pdf", PDF, "application/pdf")},
            data={"kind": "invoice"},
            headers=auth,
        )
        assert upload.status_code == 201, upload.text
        other = next(c["claim_id"] for c in claims if c["claim_id"] != waiting)
        contact = client.get(f"/v1/claims/{other}", headers=auth).json()["contacts"]["customer"]
    return waiting, other, contact["email"]


def fill(settings: Settings, folder: Path) -> Original:
    """The demo's claims, a document, one contact erased, the views caught up: a store as a
    day's work leaves it."""
    said(ledger_cli(settings, "demo", cwd=folder))
    document_claim, contact_claim, contact = upload_a_document(settings)
    said(ledger_cli(settings, "forget", "--email", ERASED_CONTACT, cwd=folder))
    said(ledger_cli(settings, "workers", "--once", cwd=folder))
    views = views_of(settings)
    assert views["claims"] and views["history"]
    token = bearer(settings)
    return Original(settings, folder, views, document_claim, contact_claim, contact, token)


def sign_checkpoint(original: Original, backup: Path) -> None:
    """`ledger checkpoint > backup/checkpoint.txt`, the backup's first step."""
    signed = ledger_cli(original.settings, "checkpoint", cwd=original.folder)
    (backup / "checkpoint.txt").write_text(signed.stdout)
    assert signed.returncode == 0 and signed.stdout.startswith(f"{PUBLIC_URL[8:]}/ledger\n")


def check_restored(original: Original, restored: Settings, backup: Path) -> None:
    """What a restore must give: the log verifies and extends the checkpoint kept before the
    backup, every document and contact key is there, a replay builds the same views, and the
    contacts read (the erased one stays erased)."""
    checked = said(
        ledger_cli(restored, "verify", "--checkpoint", str(backup / "checkpoint.txt"), cwd=backup)
    )
    assert "every stored log digest matches" in checked
    assert "the log extends it" in checked
    keys = re.search(
        r"checked the file of 1 proof documents and the key of (\d+) contacts", checked
    )
    assert keys and int(keys.group(1)) >= 2, checked
    assert "generation 2" in said(ledger_cli(restored, "replay", cwd=backup))
    assert views_of(restored) == original.views
    kept = said(ledger_cli(restored, "history", original.contact_claim, "--json", cwd=backup))
    assert original.contact in kept
    erased = said(ledger_cli(restored, "history", original.document_claim, "--json", cwd=backup))
    assert ERASED_CONTACT not in erased and "[erased]" in erased
    auth = {"Authorization": f"Bearer {original.token}"}
    with TestClient(create_app(restored, run_workers=False)) as client:
        assert client.get(f"/v1/claims/{original.contact_claim}", headers=auth).status_code == 200


# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_original(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Original]:
    url = create_database(postgres_server)
    keys = {"secret_key": SECRET_KEY, "checkpoint_key": CHECKPOINT_KEY}
    folder = tmp_path_factory.mktemp("original")
    yield fill(in_folder(url, folder, **keys), folder)
    drop_database(postgres_server, url)


def pg_backup(original: Original, backup: Path, *dump_options: str) -> None:
    """docs/operations.md's backup: the database with pg_dump, the documents with tar."""
    backup.mkdir()
    sign_checkpoint(original, backup)
    dump = ["pg_dump", "--format=custom", f"--file={backup / 'ledger.dump'}", *dump_options]
    tool(pg_tool(dump[0]), *dump[1:], original.settings.database_url)
    documents = original.settings.documents_directory()
    tool("tar", "-C", documents, "-czf", backup / "documents.tar.gz", ".")


def pg_restore(backup: Path, restored: Settings) -> None:
    """docs/operations.md's restore, into a fresh, empty database."""
    dump = backup / "ledger.dump"
    tool(
        pg_tool("pg_restore"),
        "--no-owner",
        "--exit-on-error",
        "--dbname",
        restored.database_url,
        dump,
    )
    restored.documents_directory().mkdir(parents=True)
    tool("tar", "-C", restored.documents_directory(), "-xzf", backup / "documents.tar.gz")


def test_a_postgres_backup_restored_into_a_fresh_database_verifies_and_replays_the_same(
    postgres_original: Original, postgres_server: str, tmp_path: Path
) -> None:
    pg_backup(postgres_original, tmp_path / "backup")
    fresh = create_database(postgres_server)
    try:
        keys = {"secret_key": SECRET_KEY, "checkpoint_key": CHECKPOINT_KEY}  # kept apart
        restored = in_folder(fresh, tmp_path / "restored", **keys)
        pg_restore(tmp_path / "backup", restored)
        check_restored(postgres_original, restored, tmp_path / "backup")
    finally:
        drop_database(postgres_server, fresh)


def test_restored_without_the_key_ring_verify_names_each_contact_it_cannot_read(
    postgres_original: Original, postgres_server: str, tmp_path: Path
) -> None:
    """The events alone (the contact_keys table left out of the dump): the log still
    verifies, but verify fails naming every contact key lost, and the contacts read erased."""
    pg_backup(postgres_original, tmp_path / "backup", "--exclude-table=contact_keys")
    fresh = create_database(postgres_server)
    try:
        keys = {"secret_key": SECRET_KEY, "checkpoint_key": CHECKPOINT_KEY}
        restored = in_folder(fresh, tmp_path / "restored", **keys)
        pg_restore(tmp_path / "backup", restored)
        checked = said(ledger_cli(restored, "verify", cwd=tmp_path), code=1)
        lost = re.findall(r"the contact key [0-9a-f]{32} " + re.escape(LOST_KEY), checked)
        used = re.search(r"the key of (\d+) contacts", checked)
        assert used and len(lost) == int(used.group(1)) - 1, checked  # all but the erased one
        assert "restore the key ring from the same backup as the events" in checked
        history = said(
            ledger_cli(restored, "history", postgres_original.contact_claim, "--json", cwd=tmp_path)
        )
        assert postgres_original.contact not in history and "[erased]" in history
    finally:
        drop_database(postgres_server, fresh)


# -- SQLite ---------------------------------------------------------------------------------------


def test_a_sqlite_backup_with_its_key_files_restores_elsewhere(tmp_path: Path) -> None:
    """docs/operations.md's SQLite backup: sqlite3's online .backup of the file, the key files
    beside it and the documents folder; restored into another folder under the same name."""
    folder = tmp_path / "original"
    database = folder / "ledger.sqlite3"
    original = fill(in_folder(f"sqlite:///{database}", folder), folder)
    backup = tmp_path / "backup"
    backup.mkdir()
    sign_checkpoint(original, backup)
    tool("sqlite3", database, f".backup '{backup / 'ledger.sqlite3'}'")
    for kept in ("ledger.sqlite3.key", "ledger.sqlite3.checkpoint-key"):
        shutil.copy2(folder / kept, backup / kept)
    tool("tar", "-C", folder / "documents", "-czf", backup / "documents.tar.gz", ".")

    place = tmp_path / "restored"
    restored = in_folder(f"sqlite:///{place / 'ledger.sqlite3'}", place)
    for kept in ("ledger.sqlite3", "ledger.sqlite3.key", "ledger.sqlite3.checkpoint-key"):
        shutil.copy2(backup / kept, place / kept)
    restored.documents_directory().mkdir()
    tool("tar", "-C", restored.documents_directory(), "-xzf", backup / "documents.tar.gz")
    check_restored(original, restored, backup)
