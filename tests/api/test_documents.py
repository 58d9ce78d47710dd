"""Proof documents by API: upload (every status), download with its hash checked, the
submission naming documents by id, two servers sharing the folder, erasure leaving them."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger.aggregates.claim import Claim
from ledger.domain.principal import Principal, Role
from ledger.service.settings import Settings
from tests.api.client import Api, make_api
from tests.api.helpers import REFERRAL_ADMIN_A, assert_problem, consented, new_claim
from tests.conftest import Clock
from tests.documents import CSV, DOCX, ELF, JPEG, PDF, PNG, XLSX
from tests.factories import ADMIN_A, ADMIN_B, ALL_PROOF, AUDITOR, REVIEWER

OOXML = "application/vnd.openxmlformats-officedocument"

USER_A2 = Principal(
    "uma@a.example", "P-A", frozenset({Role.INCENTIVES_USER}), frozenset({"LOC-A2"})
)


def upload(
    api: Api,
    claim_id: str,
    content: bytes,
    name: str = "proof.pdf",
    kind: str = "invoice",
    principal: Principal | None = ADMIN_A,
    **kwargs: Any,
) -> Any:
    headers = api.auth(principal) if principal else {}
    return api.client.post(
        f"/v1/claims/{claim_id}/documents",
        files={"file": (name, content, "application/octet-stream")},
        data={"kind": kind},
        headers={**headers, **kwargs.pop("headers", {})},
        **kwargs,
    )


def test_upload_answers_201_with_the_document_and_serves_it_back(api: Api) -> None:
    claim_id = consented(api)
    response = upload(api, claim_id, PDF, "invoice 2026.pdf")
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["kind"] == "invoice" and document["name"] == "invoice 2026.pdf"
    assert document["media_type"] == "application/pdf" and document["size"] == len(PDF)
    assert document["sha256"] == hashlib.sha256(PDF).hexdigest()
    stored = api.settings.documents_directory() / document["sha256"]
    assert stored.read_bytes() == PDF
    for reader in (ADMIN_A, REVIEWER, AUDITOR):
        got = api.get(f"/v1/claims/{claim_id}/documents/{document['id']}", reader)
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"].startswith("attachment;")
    history = api.get(f"/v1/claims/{claim_id}/history").json()
    assert any(e["event"] == "DocumentAttached" for e in history), history


@pytest.mark.parametrize(
    ("content", "name", "media_type"),
    [
        (PDF, "scan.png", "application/pdf"),  # by content, never by name
        (PNG, "photo", "image/png"),
        (JPEG, "photo.pdf", "image/jpeg"),
        (
            DOCX,
            "report.bin",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (XLSX, "sheet.docx", f"{OOXML}.spreadsheetml.sheet"),
        (CSV, "rows.txt", "text/csv"),
    ],
)
def test_a_document_is_recognised_by_its_content(
    api: Api, content: bytes, name: str, media_type: str
) -> None:
    claim_id = consented(api)
    response = upload(api, claim_id, content, name)
    assert response.status_code == 201, response.text
    assert response.json()["media_type"] == media_type


@pytest.mark.parametrize(
    "content",
    [ELF, b"plain words with no delimiter\nat all\n", b"a,b\n\x00\x01,c\n", b"\xff\xfe,a\n"],
)
def test_an_executable_or_any_other_file_is_refused_415(api: Api, content: bytes) -> None:
    claim_id = consented(api)
    response = upload(api, claim_id, content, "innocent.pdf")
    assert_problem(response, 415, "document-type-not-accepted")
    assert not [p for p in api.settings.documents_directory().glob("*") if p.is_file()]


def test_the_refusals_of_an_upload(api: Api) -> None:
    claim_id = consented(api)
    assert upload(api, claim_id, PDF, principal=None).status_code == 401
    assert_problem(upload(api, claim_id, PDF, principal=ADMIN_B), 404, "claim-not-found")
    assert upload(api, claim_id, PDF, principal=REVIEWER).status_code == 403
    assert_problem(upload(api, claim_id, PDF, principal=USER_A2), 403, "location-not-allowed")
    assert upload(api, claim_id, PDF, principal=REFERRAL_ADMIN_A).status_code == 403
    assert_problem(upload(api, claim_id, b"", "empty.pdf"), 422, "document-empty")
    assert_problem(upload(api, claim_id, PDF, kind="selfie"), 422, "invalid-input")
    no_file = api.client.post(
        f"/v1/claims/{claim_id}/documents", data={"kind": "invoice"}, headers=api.auth(ADMIN_A)
    )
    assert_problem(no_file, 422, "invalid-input")
    assert no_file.json()["field"] == "file"


def test_a_document_over_the_limit_is_413(settings: Settings, clock: Clock) -> None:
    small = settings.model_copy(update={"document_max_bytes": 64 * 1024})
    for api in make_api(small, clock):
        claim_id = consented(api)
        over = PDF + b"0" * (64 * 1024)
        assert_problem(upload(api, claim_id, over), 413, "document-too-large")
        exact = PDF + b"0" * (64 * 1024 - len(PDF))
        assert upload(api, claim_id, exact).status_code == 201
        body = api.post(f"/v1/claims/{claim_id}/dispute", {"reason": "x" * 2 * 1024 * 1024})
        assert body.status_code == 413  # other routes keep LEDGER_MAX_BODY_BYTES


def test_upload_only_where_submit_is_allowed(api: Api) -> None:
    claim_id = new_claim(api)  # no consent yet
    assert_problem(upload(api, claim_id, PDF), 409, "invalid-state-transition", "R30")


def test_a_submission_names_documents_by_id_and_records_their_hash(api: Api) -> None:
    claim_id = consented(api)
    ids = {k: upload(api, claim_id, PDF + k.encode(), kind=k).json()["id"] for k in ALL_PROOF}
    wrong = [{"kind": "invoice", "document_id": ids["poe_document"]}]
    refused = api.post(f"/v1/claims/{claim_id}/submission", {"proof": wrong})
    assert_problem(refused, 422, "proof-document-unknown", "R30")
    missing = api.post(f"/v1/claims/{claim_id}/submission", {"proof": [{"kind": "invoice"}]})
    assert_problem(missing, 422, "proof-reference-missing", "R30")
    proof = [{"kind": k, "document_id": ids[k]} for k in ALL_PROOF[:-1]]
    proof.append({"kind": "partner_survey", "reference": "https://files.example/survey.pdf"})
    response = api.post(f"/v1/claims/{claim_id}/submission", {"proof": proof})
    assert response.status_code == 200, response.text
    found = api.services.ledger.find(UUID(claim_id), Claim)
    assert found is not None
    submitted = found.proof
    invoice = next(p for p in submitted if p.kind == "invoice")
    assert invoice.sha256 == hashlib.sha256(PDF + b"invoice").hexdigest()
    assert str(invoice.document_id) == ids["invoice"]
    assert next(p for p in submitted if p.kind == "partner_survey").sha256 is None


def test_a_changed_file_is_refused_and_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    claim_id = consented(api)
    document = upload(api, claim_id, PDF).json()
    path = api.settings.documents_directory() / document["sha256"]
    path.write_bytes(PDF + b"% appended later\n")
    with caplog.at_level(logging.ERROR, "ledger.documents"):
        got = api.get(f"/v1/claims/{claim_id}/documents/{document['id']}", REVIEWER)
    assert_problem(got, 409, "document-changed")
    assert PDF not in got.content
    logged = caplog.text
    assert document["id"] in logged and document["sha256"] in logged
    assert hashlib.sha256(path.read_bytes()).hexdigest() in logged
    path.unlink()
    gone = api.get(f"/v1/claims/{claim_id}/documents/{document['id']}", AUDITOR)
    assert_problem(gone, 409, "document-changed")


def test_download_refusals(api: Api) -> None:
    claim_id = consented(api)
    document = upload(api, claim_id, PDF).json()
    path = f"/v1/claims/{claim_id}/documents/{document['id']}"
    assert api.get(path, None).status_code == 401
    assert_problem(api.get(path, ADMIN_B), 404, "claim-not-found")
    other = f"/v1/claims/{claim_id}/documents/{claim_id}"
    assert_problem(api.get(other, ADMIN_A), 404, "document-not-found")


def test_two_servers_share_the_folder(settings: Settings, clock: Clock) -> None:
    """Two app instances on the same store and the same documents folder: uploaded through
    one, downloaded through the other."""
    for one in make_api(settings, clock):
        for other in make_api(settings, clock):
            claim_id = consented(one)
            document = upload(one, claim_id, DOCX, "plan.docx").json()
            got = other.get(f"/v1/claims/{claim_id}/documents/{document['id']}", REVIEWER)
            assert got.status_code == 200 and got.content == DOCX


def test_erasure_leaves_documents(api: Api) -> None:
    claim_id = consented(api)
    document = upload(api, claim_id, PDF).json()
    contact = api.get(f"/v1/claims/{claim_id}").json()["contacts"]["customer"]["email"]
    erased = api.post("/v1/audit/erasures", {"email": contact}, AUDITOR)
    assert erased.status_code == 201, erased.text
    got = api.get(f"/v1/claims/{claim_id}/documents/{document['id']}", AUDITOR)
    assert got.status_code == 200 and got.content == PDF


def ledger_verify(settings: Settings, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_DOCUMENTS_DIR": str(settings.documents_directory()),
        "COLUMNS": "300",
    }
    if settings.secret_key:
        env["LEDGER_SECRET_KEY"] = settings.secret_key
    command = [sys.executable, "-m", "cli", "verify"]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)


def test_ledger_verify_checks_every_documents_hash(api: Api, tmp_path: Path) -> None:
    claim_id = consented(api)
    document = upload(api, claim_id, CSV, "rows.csv", kind="poe_document").json()
    fine = ledger_verify(api.settings, tmp_path)
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "checked the file of 1 proof documents" in fine.stdout
    path = api.settings.documents_directory() / document["sha256"]
    path.write_bytes(CSV.replace(b"5000.00", b"9000.00"))
    changed = ledger_verify(api.settings, tmp_path)
    said = " ".join(changed.stdout.split())
    assert changed.returncode == 1, said
    assert f"document {document['id']} (rows.csv) of claim {claim_id}" in said
    assert "changed" in said and document["sha256"] in said
    path.unlink()
    missing = ledger_verify(api.settings, tmp_path)
    assert missing.returncode == 1 and "missing" in missing.stdout


def test_an_upload_under_an_idempotency_key_is_recorded_once(api: Api) -> None:
    claim_id = consented(api)
    key = {"Idempotency-Key": "upload-1"}
    first = upload(api, claim_id, PDF, headers=key)
    again = upload(api, claim_id, PDF, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    history = api.get(f"/v1/claims/{claim_id}/history").json()
    assert [e["event"] for e in history].count("DocumentAttached") == 1
    other = upload(api, claim_id, PNG, "other.png", headers=key)
    assert other.status_code == 422  # the same key with another file
