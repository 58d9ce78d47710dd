"""GET /v1/audit/digest: the running log digest, for auditors only, on both stores."""

from __future__ import annotations

from ledger.audit.tamper import verify
from ledger.domain.principal import Principal, Role
from tests.api.client import Api
from tests.api.helpers import assert_problem, new_claim
from tests.factories import ADMIN_A, AUDITOR, REVIEWER, SELLER

ZEROS = "0" * 64


def test_the_digest_of_an_empty_log(api: Api) -> None:
    response = api.get("/v1/audit/digest", AUDITOR)
    assert response.status_code == 200, response.text
    assert response.json() == {"at": 0, "digest": ZEROS}


def test_the_digest_covers_the_log_up_to_its_head_and_proves_it_later(api: Api) -> None:
    new_claim(api)
    response = api.get("/v1/audit/digest", AUDITOR)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"at", "digest"} and len(body["digest"]) == 64
    ledger = api.services.ledger
    rows = ledger.event_log.page_after(0, 1000).notifications
    assert body["at"] == rows[-1].id
    result = verify(ledger, at=body["at"], expected=bytes.fromhex(body["digest"]))
    assert result.ok and result.digest.digest.hex() == body["digest"]

    new_claim(api, ["E-AS"])
    later = api.get("/v1/audit/digest", AUDITOR).json()
    assert later["at"] != body["at"] and later["digest"] != body["digest"]
    assert verify(ledger, at=body["at"], expected=bytes.fromhex(body["digest"])).ok


def test_auditors_only(api: Api) -> None:
    assert_problem(api.get("/v1/audit/digest", None), 401, "unauthorized")
    for principal in (ADMIN_A, REVIEWER, SELLER):
        assert_problem(api.get("/v1/audit/digest", principal), 403, "role-required")
    both = Principal("both@programme.example", None, frozenset({Role.REVIEWER, Role.AUDITOR}))
    assert api.get("/v1/audit/digest", both).status_code == 200
