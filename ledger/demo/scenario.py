"""The demo scenario: realistic claims played through the Ledger's public commands.

The clock starts 100 days before ``now`` and moves forward as a person's work would, so that
the final ``expire_due(now)`` has real deadlines to apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from ledger.domain.commands import (
    Cancel,
    CreateClaims,
    Dispute,
    RequestConsent,
    Review,
    Submit,
    parse,
)
from ledger.domain.customer_ids import IdType
from ledger.domain.errors import LedgerError
from ledger.domain.principal import Principal, Role
from ledger.service.application import Ledger

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


class _Scenario:
    """The demo, chapter by chapter, on one Ledger and one calendar."""

    def __init__(
        self,
        ledger: Ledger,
        now: datetime,
        log: Callable[[str], None],
        settle: Callable[[datetime], object],
    ) -> None:
        self.ledger = ledger
        self.now = now
        self.log = log
        self.settle = settle
        self.day = now - timedelta(days=100)
        self.result = DemoResult()

    def at(self, days: float) -> datetime:
        return self.day + timedelta(days=days)

    def tenant_id(self, domain: str) -> str:
        tenant = self.ledger.catalog.directory.tenant_for(IdType.DOMAIN, domain)
        assert tenant is not None, f"the demo catalog lacks {domain}"
        return tenant.tenant_id

    def consent(self, claim_id: UUID, when: float, *, accept: bool, deal: str = "25000.00") -> None:
        link = self.ledger.request_consent(
            ALICE,
            claim_id,
            parse(RequestConsent, {"deal_size_usd": deal, "disclaimer_accepted": True}),
            self.at(when),
        )
        self.settle(self.at(when + 1))  # the referral policy reacts (R40)
        self.ledger.answer_consent(claim_id, link, accept, self.at(when + 2))
        self.settle(self.at(when + 2))  # and the co-sell policy (R42)

    def submit(self, principal: Principal, claim_id: UUID, when: float) -> None:
        proof = [{"kind": k, "reference": f"files/{claim_id}/{k}.pdf"} for k in ALL_PROOF]
        self.ledger.submit(principal, claim_id, parse(Submit, {"proof": proof}), self.at(when))

    def review(self, claim_id: UUID, when: float, action: str, reason: str | None = None) -> None:
        command = parse(Review, {"action": action, "reason": reason})
        self.ledger.review(RITA, claim_id, command, self.at(when))

    def add(self, principal: Principal, when: float, command: CreateClaims) -> list[UUID]:
        return self.ledger.create_claims(principal, command, self.at(when))

    def fabrikam(self) -> None:
        self.log(
            "Contoso adds Fabrikam (by domain) for the migration workshop and the data assessment"
        )
        ws, assess = self.add(
            ALICE,
            0,
            _create(
                "added",
                "Fabrikam",
                "LOC-1001",
                "domain",
                "https://www.fabrikam.com/",
                ["ENG-AZ-MIGRATE-WS", "ENG-DATA-ASSESS"],
                "it@fabrikam.com",
            ),
        )
        self.result.claims.update({"Fabrikam workshop": ws, "Fabrikam assessment": assess})
        self.log(
            "Fabrikam consents to the workshop; Contoso delivers, submits proof; "
            "the reviewer approves"
        )
        self.consent(ws, 1, accept=True)
        self.submit(ALICE, ws, 20)
        self.review(ws, 22, "start")
        self.review(ws, 23, "approve")
        self.log("The assessment: rejected, disputed, resubmitted, then rejected for good")
        self.consent(assess, 1, accept=True, deal="8000.00")
        self.submit(ALICE, assess, 30)
        self.review(assess, 31, "start")
        self.review(assess, 32, "reject", "the survey is unsigned")
        dispute = parse(Dispute, {"reason": "signed survey attached"})
        self.ledger.dispute(ALICE, assess, dispute, self.at(35))
        self.submit(ALICE, assess, 36)
        self.review(assess, 37, "start")
        self.review(assess, 38, "reject", "the proof of execution predates the engagement")

    def alpine_is_refused(self) -> None:
        self.log("Alpine tries to claim Fabrikam for the workshop: its one slot is taken (R10)")
        try:
            self.add(
                BRUNO,
                40,
                _create(
                    "added",
                    "Fabrikam GmbH",
                    "LOC-2001",
                    "tenant_id",
                    self.tenant_id("fabrikam.com"),
                    ["ENG-AZ-MIGRATE-WS"],
                    "it@fabrikam.com",
                ),
            )
        except LedgerError as refusal:
            self.result.refusals.append(str(refusal))  # slug and rule, for the tests
            said = refusal.words.say() + (f" ({refusal.rule})" if refusal.rule else "")
            self.log(f"  refused: {said}")

    def fabrikam_is_known(self) -> None:
        self.log("Contoso claims Fabrikam, now a known customer, for the security quick start")
        (sec,) = self.add(
            ALICE,
            41,
            _create(
                "claimed",
                "Fabrikam",
                "LOC-1001",
                "domain",
                "fabrikam.com",
                ["ENG-SEC-XS"],
                "it@fabrikam.com",
            ),
        )
        self.result.claims["Fabrikam security (left waiting for consent)"] = sec

    def northwind_declines(self) -> None:
        self.log("Contoso adds Northwind by tenant id with an outside contact (R8) and is declined")
        (nw,) = self.add(
            ALICE,
            45,
            _create(
                "added",
                "Northwind",
                "LOC-1001",
                "tenant_id",
                self.tenant_id("northwindtraders.com"),
                ["ENG-TENANT-ONLY-AS"],
                "buyer@northwind-partners.example",
                tenant_mismatch_reason="the customer's procurement office uses its own mail domain",
            ),
        )
        self.consent(nw, 46, accept=False)
        self.result.claims["Northwind assessment (declined)"] = nw

    def relecloud_is_cancelled(self) -> None:
        self.log("Alpine adds Relecloud for the large modernisation project and cancels it")
        (relecloud,) = self.add(
            BRUNO,
            50,
            _create(
                "added",
                "Relecloud",
                "LOC-2001",
                "tenant_id",
                self.tenant_id("relecloud.com"),
                ["ENG-APP-MOD-L"],
                "cto@relecloud.com",
            ),
        )
        cancel = Cancel(reason="customer chose another partner")
        self.ledger.cancel(BRUNO, relecloud, cancel, self.at(52))
        self.result.claims["Relecloud project (cancelled)"] = relecloud

    def tailspin_pilot(self) -> None:
        self.log(
            "Contoso nominates an MSX opportunity for the variable-payout AI pilot (120 hours)"
        )
        (pilot,) = self.add(
            ALICE,
            60,
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
        )
        self.consent(pilot, 61, accept=True, deal="48000.00")
        self.submit(ALICE, pilot, 80)
        self.review(pilot, 81, "start")
        self.review(pilot, 82, "request_information", "add the timesheets")
        self.result.claims["Tailspin AI pilot (partner action required)"] = pilot


def play(
    ledger: Ledger,
    now: datetime,
    log: Callable[[str], None] = print,
    settle: Callable[[datetime], object] = lambda at: None,
) -> DemoResult:
    """Play the scenario; ``log`` receives one line per step, and ``settle(at)`` lets the
    policies follow the log at the scenario's time after each consent step."""
    scenario = _Scenario(ledger, now, log, settle)
    scenario.fabrikam()
    scenario.alpine_is_refused()
    scenario.fabrikam_is_known()
    scenario.northwind_declines()
    scenario.relecloud_is_cancelled()
    scenario.tailspin_pilot()
    log("The deadline policy runs at today's date")
    scenario.result.expired = ledger.expire_due(now)
    return scenario.result
