"""Creation rules R1-R19, through the Ledger on the in-memory store."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.aggregates.claim import Claim, ClaimState
from ledger.domain.commands import Cancel, CreateClaims, EligibilityCheck, Review, parse
from ledger.domain.errors import (
    ConflictError,
    ForbiddenError,
    IneligibleError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    RuleRefusedError,
)
from ledger.domain.principal import Principal, Role
from ledger.service.application import Ledger
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    ADMIN_C,
    AUDITOR,
    FABRIKAM,
    LITWARE,
    NORTHWIND,
    REVIEWER,
    SUB1,
    USER_A1,
    consent_request,
    consented_claim,
    create,
    days,
    proof,
)


def test_r1_partner_role_is_required(ledger: Ledger) -> None:
    for principal in (REVIEWER, AUDITOR, Principal("x", "P-A", frozenset({Role.SELLER}))):
        with pytest.raises(ForbiddenError) as refused:
            ledger.create_claims(principal, create(), days(0))
        assert (refused.value.slug, refused.value.rule) == ("role-required", "R1")


def test_r1_incentives_user_acts_only_for_its_locations(ledger: Ledger) -> None:
    ledger.create_claims(USER_A1, create(), days(0))
    with pytest.raises(ForbiddenError) as refused:
        ledger.create_claims(USER_A1, create(["E-A2"], location="LOC-A2"), days(0))
    assert (refused.value.slug, refused.value.rule) == ("location-not-allowed", "R1")


def test_r1_incentives_admin_acts_for_every_location_of_its_partner(ledger: Ledger) -> None:
    (claim_id,) = ledger.create_claims(ADMIN_A, create(["E-A2"], location="LOC-A2"), days(0))
    assert ledger.get_claim(ADMIN_A, claim_id).terms.location_id == "LOC-A2"


def test_r2_location_must_belong_to_the_partner(ledger: Ledger) -> None:
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_A, create(location="LOC-B1"), days(0))
    assert (refused.value.slug, refused.value.rule, refused.value.field) == (
        "location-not-found",
        "R2",
        "location_id",
    )


def test_r2_location_must_be_enrolled(ledger: Ledger) -> None:
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_A, create(location="LOC-A3"), days(0))
    assert refused.value.slug == "location-not-enrolled"


def test_r2_location_must_be_eligible_for_each_engagement(ledger: Ledger) -> None:
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_A, create(["E-WS", "E-A2"]), days(0))
    assert (refused.value.slug, refused.value.extra["engagement_id"]) == (
        "location-not-eligible",
        "E-A2",
    )
    assert list(ledger.claim_ids()) == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_r3_friendly_name_is_1_to_100_characters_after_trimming(name: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        create(name=name)
    assert (refused.value.field, refused.value.rule) == ("friendly_name", "R3")


def test_r3_friendly_name_is_trimmed(ledger: Ledger) -> None:
    (claim_id,) = ledger.create_claims(ADMIN_A, create(name="  Fabrikam East  "), days(0))
    assert ledger.get_claim(ADMIN_A, claim_id).terms.friendly_name == "Fabrikam East"


def test_r4_malformed_id_is_refused_naming_the_field(ledger: Ledger) -> None:
    with pytest.raises(InvalidInputError) as refused:
        ledger.create_claims(ADMIN_A, create(value="not-a-guid"), days(0))
    assert (refused.value.slug, refused.value.rule, refused.value.field) == (
        "invalid-customer-id",
        "R4",
        "customer_id.value",
    )


def test_r4_value_is_normalised_before_it_is_recorded(ledger: Ledger) -> None:
    (claim_id,) = ledger.create_claims(ADMIN_A, create(value="{" + FABRIKAM.upper() + "}"), days(0))
    assert ledger.get_claim(ADMIN_A, claim_id).terms.customer_id.value == FABRIKAM


def test_r5_fixed_payout_engagement_accepts_only_its_id_types(ledger: Ledger) -> None:
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(
            ADMIN_A, create(["E-TPID"], id_type="domain", value="fabrikam.com"), days(0)
        )
    assert (refused.value.slug, refused.value.rule) == ("id-type-not-allowed", "R5")


def test_r5_variable_payout_engagement_accepts_only_msx_opportunities(ledger: Ledger) -> None:
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_A, create(["E-VAR"], hours=10), days(0))
    assert refused.value.slug == "id-type-not-allowed"


def test_r6_domain_is_resolved_to_its_tenant_for_eligibility(ledger: Ledger) -> None:
    (claim_id,) = ledger.create_claims(
        ADMIN_A, create(id_type="domain", value="https://WWW.Fabrikam.com/x"), days(0)
    )
    terms = ledger.get_claim(ADMIN_A, claim_id).terms
    assert terms.customer_id.value == "fabrikam.com"
    assert terms.resolved_tenant_id == FABRIKAM
    assert terms.eligibility_key == f"tenant_id:{FABRIKAM}"


def test_r6_unknown_domain_asks_for_tenant_id_or_tpid(ledger: Ledger) -> None:
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_A, create(id_type="domain", value="unknown.example"), days(0))
    assert (refused.value.slug, refused.value.rule) == ("domain-not-resolved", "R6")
    assert "tenant ID or TPID" in refused.value.detail


def test_r7_qualification_of_one_id_does_not_carry_over(ledger: Ledger) -> None:
    # Fabrikam's tenant qualifies for E-WS; its TPID 111 is not on E-WS's TPID list.
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_A, create(id_type="tpid", value="111"), days(0))
    assert refused.value.slug == "criteria-not-met"


def test_r8_contact_outside_the_tenant_domains_needs_a_reason(ledger: Ledger) -> None:
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_A, create(customer_email="cio@elsewhere.example"), days(0))
    assert (refused.value.slug, refused.value.field) == (
        "tenant-domain-mismatch-reason-required",
        "tenant_mismatch_reason",
    )
    (claim_id,) = ledger.create_claims(
        ADMIN_A,
        create(customer_email="cio@elsewhere.example", tenant_mismatch_reason="agency"),
        days(0),
    )
    assert ledger.get_claim(ADMIN_A, claim_id).terms.tenant_mismatch_reason == "agency"


def test_r8_contact_on_a_verified_domain_records_no_reason(ledger: Ledger) -> None:
    (claim_id,) = ledger.create_claims(
        ADMIN_A, create(tenant_mismatch_reason="not needed"), days(0)
    )
    assert ledger.get_claim(ADMIN_A, claim_id).terms.tenant_mismatch_reason is None


def test_r9_reason_names_the_id_type_that_would_qualify(ledger: Ledger) -> None:
    check = parse(
        EligibilityCheck,
        {
            "location_id": "LOC-A1",
            "customer_id": {"type": "tenant_id", "value": LITWARE},
            "engagement_ids": ["E-WS"],
        },
    )
    (preview,) = ledger.preview_eligibility(ADMIN_A, check)
    assert not preview.eligibility.eligible
    assert preview.eligibility.reasons == ("criteria-not-met",)
    assert preview.eligibility.rule == "R9"
    hint = preview.eligibility.hint
    assert hint is not None
    assert hint.say() == (
        f"Tenant ID {LITWARE} is not on this engagement's list of eligible customers; "
        "the customer's TPID would qualify"
    )


def test_r10_customer_not_on_the_list_is_ineligible(ledger: Ledger) -> None:
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(
            ADMIN_A, create(["E-TPID"], value=NORTHWIND, customer_email="it@northwind.com"), days(0)
        )
    assert (refused.value.slug, refused.value.rule) == ("criteria-not-met", "R10")


def test_r10_claim_limit_counts_live_claims_of_all_partners(ledger: Ledger) -> None:
    ledger.create_claims(ADMIN_A, create(["E-AS"]), days(0))
    ledger.create_claims(ADMIN_B, create(["E-AS"], location="LOC-B1"), days(0))
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_C, create(["E-AS"], location="LOC-C1"), days(0))
    assert (refused.value.slug, refused.value.rule) == ("claim-limit-reached", "R10")


def test_r10_claim_limit_reached_for_a_third_partner(ledger: Ledger) -> None:
    ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_B, create(["E-WS"], location="LOC-B1"), days(0))
    assert (refused.value.slug, refused.value.rule) == ("claim-limit-reached", "R10")


def test_r10_approved_claims_count_and_terminal_ones_free_their_place(ledger: Ledger) -> None:
    (claim_id,) = ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    ledger.cancel(ADMIN_A, claim_id, parse_cancel(), days(1))
    (second,) = ledger.create_claims(ADMIN_B, create(["E-WS"], location="LOC-B1"), days(2))
    assert ledger.get_claim(ADMIN_B, second).state is ClaimState.CUSTOMER_CLAIMED
    # An approved claim keeps its place: the limit counts live or approved claims.
    link = ledger.request_consent(ADMIN_B, second, consent_request(), days(3))
    ledger.answer_consent(second, link, True, days(3))
    ledger.submit(ADMIN_B, second, proof(), days(4))
    ledger.review(REVIEWER, second, Review(action="start"), days(5))
    ledger.review(REVIEWER, second, Review(action="approve"), days(5))
    for principal, location, origin in (
        (ADMIN_A, "LOC-A1", "added"),
        (ADMIN_B, "LOC-B1", "claimed"),
    ):
        command = create(["E-WS"], location=location, origin=origin)
        with pytest.raises(RuleRefusedError) as refused:
            ledger.create_claims(principal, command, days(6))
        assert refused.value.slug == "claim-limit-reached"


def test_r10_domain_and_tenant_id_of_one_customer_share_the_limit(ledger: Ledger) -> None:
    ledger.create_claims(ADMIN_A, create(["E-WS"], id_type="domain", value="fabrikam.com"), days(0))
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_B, create(["E-WS"], location="LOC-B1"), days(0))
    assert refused.value.slug == "claim-limit-reached"


def test_r11_one_claim_per_engagement_atomically(ledger: Ledger) -> None:
    ids = ledger.create_claims(ADMIN_A, create(["E-WS", "E-AS"]), days(0))
    assert {ledger.get_claim(ADMIN_A, i).engagement_id for i in ids} == {"E-WS", "E-AS"}


def test_r11_an_ineligible_engagement_refuses_them_all(ledger: Ledger) -> None:
    ledger.create_claims(ADMIN_B, create(["E-WS"], location="LOC-B1"), days(0))
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_A, create(["E-AS", "E-WS"]), days(0))
    assert refused.value.extra["reasons"] == {"E-WS": ["claim-limit-reached"]}
    assert len(list(ledger.claim_ids())) == 1


def test_r11_mixed_reasons_are_listed_per_engagement(ledger: Ledger) -> None:
    ledger.create_claims(
        ADMIN_B,
        create(["E-WS"], location="LOC-B1", value=NORTHWIND, customer_email="it@northwind.com"),
        days(0),
    )
    with pytest.raises(IneligibleError) as refused:
        ledger.create_claims(
            ADMIN_A,
            create(["E-WS", "E-TPID"], value=NORTHWIND, customer_email="it@northwind.com"),
            days(0),
        )
    assert refused.value.extra["reasons"] == {
        "E-WS": ["claim-limit-reached"],
        "E-TPID": ["criteria-not-met"],
    }
    assert refused.value.rule == "R11"


def test_r12_variable_payout_needs_hours_in_range(ledger: Ledger) -> None:
    for hours in (None, 0, 201):
        with pytest.raises(RuleRefusedError) as refused:
            ledger.create_claims(
                ADMIN_A,
                create(["E-VAR"], id_type="msx_opportunity_id", value="7-small00001", hours=hours),
                days(0),
            )
        assert (refused.value.slug, refused.value.rule) == ("hours-required", "R12")


@pytest.mark.parametrize(
    ("opportunity", "hours", "payout"),
    [
        ("7-SMALL00001", 10, "1500.00"),  # 10 000 USD: 150/h
        ("7-LARGE00001", 10, "2000.00"),  # 80 000 USD: 200/h
        ("7-LARGE00001", 200, "30000.00"),  # 40 000 capped at 30 000
    ],
)
def test_r12_proposed_payout_is_hours_times_band_rate_capped(
    ledger: Ledger, opportunity: str, hours: int, payout: str
) -> None:
    (claim_id,) = ledger.create_claims(
        ADMIN_A,
        create(["E-VAR"], id_type="msx_opportunity_id", value=opportunity, hours=hours),
        days(0),
    )
    terms = ledger.get_claim(ADMIN_A, claim_id).terms
    assert (terms.hours, terms.proposed_payout_usd) == (hours, Decimal(payout))


def test_r12_opportunity_below_every_band_is_refused(ledger: Ledger) -> None:
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(
            ADMIN_A,
            create(["E-VAR"], id_type="msx_opportunity_id", value="7-NORATE0001", hours=5),
            days(0),
        )
    assert refused.value.slug == "opportunity-not-rated"


def test_r12_variable_payout_exactly_one_engagement(ledger: Ledger) -> None:
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(
            ADMIN_A,
            create(["E-VAR", "E-WS"], id_type="msx_opportunity_id", value="7-SMALL00001", hours=5),
            days(0),
        )
    assert refused.value.slug == "variable-payout-single-engagement"


@pytest.mark.parametrize(
    ("contacts", "field"),
    [
        ({"customer": {"name": "C", "email": "not-an-email"}}, "contacts.customer.email"),
        ({"customer": {"name": "", "email": "c@fabrikam.com"}}, "contacts.customer.name"),
        ({}, "contacts.customer"),
    ],
)
def test_r13_contacts_are_required_and_validated(contacts: dict[str, object], field: str) -> None:
    partner = {"partner": {"name": "Pat", "email": "pat@a.example"}}
    with pytest.raises(InvalidInputError) as refused:
        create(contacts={**partner, **contacts})
    assert (refused.value.field, refused.value.rule) == (field, "R13")


def test_r14_one_live_claim_per_partner_engagement_and_customer(ledger: Ledger) -> None:
    (first,) = ledger.create_claims(ADMIN_A, create(["E-AS"]), days(0))
    with pytest.raises(ConflictError) as refused:
        ledger.create_claims(ADMIN_A, create(["E-AS"]), days(0))
    assert (refused.value.slug, refused.value.rule) == ("claim-already-exists", "R14")
    assert refused.value.extra["existing_claim_id"] == str(first)


def test_r14_after_a_terminal_claim_a_new_claim_may_be_made(ledger: Ledger) -> None:
    (first,) = ledger.create_claims(ADMIN_A, create(["E-AS"]), days(0))
    ledger.cancel(ADMIN_A, first, parse_cancel(), days(1))
    (second,) = ledger.create_claims(ADMIN_A, create(["E-AS"]), days(2))
    assert second != first


def test_r15_adding_a_known_customer_is_refused(ledger: Ledger) -> None:
    consented_claim(ledger, engagements=["E-AS"])
    with pytest.raises(ConflictError) as refused:
        ledger.create_claims(ADMIN_A, create(["E-WS"]), days(2))
    assert (refused.value.slug, refused.value.rule) == ("customer-already-known", "R15")


def test_r15_claiming_an_unknown_customer_is_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFoundError) as refused:
        ledger.create_claims(ADMIN_A, create(["E-WS"], origin="claimed"), days(0))
    assert (refused.value.slug, refused.value.rule) == ("customer-not-known", "R15")


def test_r15_known_is_per_partner(ledger: Ledger) -> None:
    consented_claim(ledger, engagements=["E-AS"])
    (claim_id,) = ledger.create_claims(ADMIN_B, create(["E-AS"], location="LOC-B1"), days(2))
    assert ledger.get_claim(ADMIN_B, claim_id).origin == "added"


def test_r16_a_save_that_lost_the_race_is_retried_on_fresh_state(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Interleave: B's claim lands between A's read of the seat and A's save.
    # (The threaded race on a real store is in tests/integration/test_concurrency.py.)
    original_save = ledger.save
    raced: list[bool] = []

    def save_after_a_rival(*objs: object, **kwargs: object) -> object:
        if not raced:
            raced.append(True)
            ledger.create_claims(ADMIN_B, create(["E-WS"], location="LOC-B1"), days(0))
        return original_save(*objs, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger, "save", save_after_a_rival)
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    assert refused.value.slug == "claim-limit-reached"
    assert len(list(ledger.claim_ids())) == 1


def test_r17_claiming_a_known_customer_applies_the_same_checks(ledger: Ledger) -> None:
    consented_claim(ledger, engagements=["E-AS"])
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_A, create(["E-TPID"], origin="claimed"), days(2))
    assert refused.value.slug == "criteria-not-met"
    (claim_id,) = ledger.create_claims(ADMIN_A, create(["E-WS"], origin="claimed"), days(2))
    assert ledger.get_claim(ADMIN_A, claim_id).state is ClaimState.CUSTOMER_CLAIMED


def test_r18_claiming_runs_eligibility_again_at_the_command(ledger: Ledger) -> None:
    consented_claim(ledger, engagements=["E-AS"])
    ledger.create_claims(ADMIN_B, create(["E-WS"], location="LOC-B1"), days(2))
    with pytest.raises(RuleRefusedError) as refused:
        ledger.create_claims(ADMIN_A, create(["E-WS"], origin="claimed"), days(3))
    assert refused.value.slug == "claim-limit-reached"


def test_r19_a_claim_records_whether_it_was_added_or_claimed(ledger: Ledger) -> None:
    first = consented_claim(ledger, engagements=["E-AS"])
    (second,) = ledger.create_claims(ADMIN_A, create(["E-WS"], origin="claimed"), days(2))
    events = [ledger.history(ADMIN_A, i)[0] for i in (first, second)]
    assert [type(e) for e in events] == [Claim.Added, Claim.Claimed]
    assert [ledger.get_claim(ADMIN_A, i).origin for i in (first, second)] == ["added", "claimed"]


def test_subscription_ids_are_checked_as_given(ledger: Ledger) -> None:
    (claim_id,) = ledger.create_claims(
        ADMIN_A, create(id_type="azure_subscription_id", value=SUB1.upper()), days(0)
    )
    assert ledger.get_claim(ADMIN_A, claim_id).terms.resolved_tenant_id == FABRIKAM


@pytest.mark.parametrize(
    ("command", "slug"),
    [
        (create(customer_email="cora@gmail.example"), "tenant-domain-mismatch-reason-required"),
        (create(["E-VAR"], id_type="msx_opportunity_id", value="7-SMALL00001"), "hours-required"),
        (create(["E-TPID"]), "criteria-not-met"),
        (create(location="LOC-A3"), "location-not-enrolled"),
        (create(origin="claimed"), "customer-not-known"),
    ],
)
def test_checking_claims_refuses_what_creating_them_refuses(
    ledger: Ledger, command: CreateClaims, slug: str
) -> None:
    """The page's wizard asks ``check_claims`` before its review step."""
    with pytest.raises(LedgerError) as checked:
        ledger.check_claims(ADMIN_A, command, days(0))
    with pytest.raises(LedgerError) as created:
        ledger.create_claims(ADMIN_A, command, days(0))
    assert checked.value.slug == created.value.slug == slug


def test_checking_claims_makes_none(ledger: Ledger) -> None:
    ledger.check_claims(ADMIN_A, create(), days(0))
    assert list(ledger.claim_ids()) == []
    ledger.create_claims(ADMIN_A, create(), days(0))
    with pytest.raises(ConflictError):  # R14: the claim just made is seen
        ledger.check_claims(ADMIN_A, create(), days(0))


def test_a_chosen_preview_refuses_the_choice_as_creation_would(ledger: Ledger) -> None:
    check = parse(
        EligibilityCheck,
        {
            "location_id": "LOC-A1",
            "customer_id": {"type": "msx_opportunity_id", "value": "7-SMALL00001"},
            "engagement_ids": ["E-VAR", "E-WS"],
            "hours": 5,
        },
    )
    assert len(ledger.preview_eligibility(ADMIN_A, check)) == 2  # the API's preview of both
    with pytest.raises(RuleRefusedError) as together:
        ledger.preview_eligibility(ADMIN_A, check, chosen=True)
    assert (together.value.slug, together.value.rule) == (
        "variable-payout-single-engagement",
        "R12",
    )
    alone = check.model_copy(update={"engagement_ids": ["E-VAR"], "hours": None})
    with pytest.raises(RuleRefusedError) as without_hours:
        ledger.preview_eligibility(ADMIN_A, alone, chosen=True)
    assert (without_hours.value.slug, without_hours.value.field) == ("hours-required", "hours")
    (preview,) = ledger.preview_eligibility(
        ADMIN_A, alone.model_copy(update={"hours": 10}), chosen=True
    )
    assert preview.proposed_payout_usd == Decimal("1500.00")


def parse_cancel() -> Cancel:
    return Cancel(reason="customer withdrew")
