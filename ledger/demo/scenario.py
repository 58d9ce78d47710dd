"""The demo scenario: realistic claims played through the Ledger's public commands.

The clock starts 100 days before ``now`` and moves forward as a person's work would, so that
the final ``expire_due(now)`` has real deadlines to apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from ledger.application import Ledger
from ledger.commands import (
    Cancel,
    CreateClaims,
    Dispute,
    RequestConsent,
    Review,
    Submit,
    parse,
)
from ledger.customer_ids import IdType
from ledger.errors import LedgerError
from ledger.principal import Principal, Role

ALICE = Principal("alice@contoso.example", "P-CONTOSO", frozenset({Role.INCENTIVES_ADMIN}))
BRUNO = Principal(
    "bruno@alpine.example", "P-ALPINE", frozenset({Role.INCENTIVES_USER}), frozenset({"LOC-2001"})
)
RITA = Principal("rita@programme.example", None, frozenset({Role.REVIEWER}))
ALL_PROOF = ["invoice", "poe_document", "customer_survey", "partner_survey"]


@dataclass
class DemoResult:
    claims: dict[str, UUID] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    expired: list[UUID] = field(default_factory=list)


def _create(
    origin: str,
    name: str,
    location: str,
    id_type: str,
    value: str,
    engagements: list[str],
    customer_email: str,
    **extra: object,
) -> CreateClaims:
    return parse(
        CreateClaims,
        {
            "origin": origin,
            "friendly_name": name,
            "location_id": location,
            "customer_id": {"type": id_type, "value": value},
            "engagement_ids": engagements,
            "contacts": {
                "customer": {"name": f"{name} IT lead", "email": customer_email},
                "partner": {"name": "Partner PM", "email": "pm@partner.example"},
            },
            **extra,
        },
    )


def play(ledger: Ledger, now: datetime, log: Callable[[str], None] = print) -> DemoResult:
    """Play the scenario; ``log`` receives one line per step."""
    result = DemoResult()
    day = now - timedelta(days=100)

    def at(days: float) -> datetime:
        return day + timedelta(days=days)

    def tenant_id(domain: str) -> str:
        tenant = ledger.catalog.directory.tenant_for(IdType.DOMAIN, domain)
        assert tenant is not None, f"the demo catalog lacks {domain}"
        return tenant.tenant_id

    def consent(claim_id: UUID, when: float, *, accept: bool, deal: str = "25000.00") -> None:
        link = ledger.request_consent(
            ALICE,
            claim_id,
            parse(RequestConsent, {"deal_size_usd": deal, "disclaimer_accepted": True}),
            at(when),
        )
        ledger.answer_consent(claim_id, link, accept, at(when + 2))

    def submit(principal: Principal, claim_id: UUID, when: float) -> None:
        proof = [{"kind": k, "reference": f"files/{claim_id}/{k}.pdf"} for k in ALL_PROOF]
        ledger.submit(principal, claim_id, parse(Submit, {"proof": proof}), at(when))

    def review(claim_id: UUID, when: float, action: str, reason: str | None = None) -> None:
        command = parse(Review, {"action": action, "reason": reason})
        ledger.review(RITA, claim_id, command, at(when))

    log("Contoso adds Fabrikam (by domain) for the migration workshop and the data assessment")
    ws, assess = ledger.create_claims(
        ALICE,
        _create(
            "added",
            "Fabrikam",
            "LOC-1001",
            "domain",
            "https://www.fabrikam.com/",
            ["ENG-AZ-MIGRATE-WS", "ENG-DATA-ASSESS"],
            "it@fabrikam.com",
        ),
        at(0),
    )
    result.claims.update({"Fabrikam workshop": ws, "Fabrikam assessment": assess})

    log("Fabrikam consents to the workshop; Contoso delivers, submits proof; the reviewer approves")
    consent(ws, 1, accept=True)
    submit(ALICE, ws, 20)
    review(ws, 22, "start")
    review(ws, 23, "approve")

    log("The assessment: rejected, disputed, resubmitted, then rejected for good")
    consent(assess, 1, accept=True, deal="8000.00")
    submit(ALICE, assess, 30)
    review(assess, 31, "start")
    review(assess, 32, "reject", "the survey is unsigned")
    ledger.dispute(ALICE, assess, parse(Dispute, {"reason": "signed survey attached"}), at(35))
    submit(ALICE, assess, 36)
    review(assess, 37, "start")
    review(assess, 38, "reject", "the proof of execution predates the engagement")

    log("Alpine tries to claim Fabrikam for the workshop: its one slot is taken (R10)")
    try:
        ledger.create_claims(
            BRUNO,
            _create(
                "added",
                "Fabrikam GmbH",
                "LOC-2001",
                "tenant_id",
                tenant_id("fabrikam.com"),
                ["ENG-AZ-MIGRATE-WS"],
                "it@fabrikam.com",
            ),
            at(40),
        )
    except LedgerError as refusal:
        result.refusals.append(str(refusal))
        log(f"  refused: {refusal}")

    log("Contoso claims Fabrikam, now a known customer, for the security quick start")
    (sec,) = ledger.create_claims(
        ALICE,
        _create(
            "claimed",
            "Fabrikam",
            "LOC-1001",
            "domain",
            "fabrikam.com",
            ["ENG-SEC-XS"],
            "it@fabrikam.com",
        ),
        at(41),
    )
    result.claims["Fabrikam security (left waiting for consent)"] = sec

    log("Contoso adds Northwind by tenant id with an outside contact (R8) and is declined")
    (nw,) = ledger.create_claims(
        ALICE,
        _create(
            "added",
            "Northwind",
            "LOC-1001",
            "tenant_id",
            tenant_id("northwindtraders.com"),
            ["ENG-TENANT-ONLY-AS"],
            "buyer@northwind-partners.example",
            tenant_mismatch_reason="the customer's procurement office uses its own mail domain",
        ),
        at(45),
    )
    consent(nw, 46, accept=False)
    result.claims["Northwind assessment (declined)"] = nw

    log("Alpine adds Relecloud for the large modernisation project and cancels it")
    (relecloud,) = ledger.create_claims(
        BRUNO,
        _create(
            "added",
            "Relecloud",
            "LOC-2001",
            "tenant_id",
            tenant_id("relecloud.com"),
            ["ENG-APP-MOD-L"],
            "cto@relecloud.com",
        ),
        at(50),
    )
    ledger.cancel(BRUNO, relecloud, Cancel(reason="customer chose another partner"), at(52))
    result.claims["Relecloud project (cancelled)"] = relecloud

    log("Contoso nominates an MSX opportunity for the variable-payout AI pilot (120 hours)")
    (pilot,) = ledger.create_claims(
        ALICE,
        _create(
            "added",
            "Tailspin AI pilot",
            "LOC-1001",
            "msx_opportunity_id",
            "7-tai100074",
            ["ENG-AI-PILOT-VAR"],
            "data@tailspintoys.com",
            hours=120,
        ),
        at(60),
    )
    consent(pilot, 61, accept=True, deal="48000.00")
    submit(ALICE, pilot, 80)
    review(pilot, 81, "start")
    review(pilot, 82, "request_information", "add the timesheets")
    result.claims["Tailspin AI pilot (partner action required)"] = pilot

    log("The deadline policy runs at today's date")
    result.expired = ledger.expire_due(now)
    return result
