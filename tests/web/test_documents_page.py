"""Proof documents on the page: uploaded in the submit form (a real multipart post, no
JavaScript), listed on the claim page and the review page, opened by their links."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

from tests.documents import ELF, PDF, XLSX
from tests.factories import REVIEWER
from tests.web.client import Site
from tests.web.test_claims import action_form, error_of, form


def post_multipart(site: Site, claim_id: UUID, fields: list[tuple[str, str]], files: Any) -> Any:
    data: dict[str, list[str]] = {}
    for name, value in fields:
        if not name.endswith(".file"):
            data.setdefault(name, []).append(value)
    return site.client.post(f"/claims/{claim_id}/submission", data=data, files=files)


def test_the_submit_form_uploads_files_and_the_pages_list_them(site: Site) -> None:
    claim_id = site.consented()
    submit = form(site, claim_id, "submit")
    typed = {"proof.2.reference": "survey-link", "proof.3.reference": "partner-survey.pdf"}
    files = [
        ("proof.0.file", ("invoice.png", PDF, "image/png")),  # a PDF by its content
        ("proof.1.file", ("poe.xlsx", XLSX, "application/octet-stream")),
        ("proof.2.file", ("", b"", "application/octet-stream")),  # no file chosen
    ]
    sent = post_multipart(site, claim_id, submit.data(answers=typed), files)
    assert sent.status_code == 303, sent.text
    page = site.get(f"/claims/{claim_id}").text
    assert "<strong>Submitted</strong>" in page
    documents = site.services.ledger.documents(REVIEWER, claim_id)
    assert [d.media_type for d in documents] == [
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ]
    invoice = documents[0]
    assert invoice.sha256 == hashlib.sha256(PDF).hexdigest()
    link = f"/claims/{claim_id}/documents/{invoice.id}"
    assert f'href="{link}"' in page and "invoice.png" in page
    got = site.get(link)
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-disposition"].startswith("attachment;")

    site.sign_in(REVIEWER)
    review = site.get(f"/review/{claim_id}").text
    assert f'href="{link}"' in review and "poe.xlsx" in review
    assert site.get(link).content == PDF


def test_a_refused_file_is_named_next_to_its_field(site: Site) -> None:
    claim_id = site.consented()
    submit = form(site, claim_id, "submit")
    typed = {f"proof.{i}.reference": f"doc-{i}.pdf" for i in range(1, 4)}
    files = [("proof.0.file", ("invoice.pdf", ELF, "application/pdf"))]
    refused = post_multipart(site, claim_id, submit.data(answers=typed), files)
    assert refused.status_code == 415, refused.text
    said = error_of(refused.text, "proof-0-file")
    assert "not a PDF, PNG, JPEG" in said and "document-type" not in said
    assert site.state(claim_id) == "consent_received"
    empty = [("proof.0.file", ("invoice.pdf", b"", "application/pdf"))]
    again = action_form(refused.text, "submit")
    refused = post_multipart(site, claim_id, again.data(answers=typed), empty)
    assert refused.status_code in (303, 422)  # an empty file part is no file chosen


def test_a_changed_file_is_the_409_page(site: Site) -> None:
    claim_id = site.consented()
    submit = form(site, claim_id, "submit")
    typed = {f"proof.{i}.reference": f"doc-{i}.pdf" for i in range(1, 4)}
    files = [("proof.0.file", ("invoice.pdf", PDF, "application/pdf"))]
    assert post_multipart(site, claim_id, submit.data(answers=typed), files).status_code == 303
    (document,) = site.services.ledger.documents(REVIEWER, claim_id)
    path = site.services.documents.file(document.sha256)
    path.write_bytes(b"%PDF-1.4 something else")
    shown = site.get(f"/claims/{claim_id}/documents/{document.id}")
    assert shown.status_code == 409
    assert "no longer matches" in shown.text and b"something else" not in shown.content
