"""R4: the five id types are parsed and normalised; a malformed value names the field."""

from __future__ import annotations

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from ledger.domain.customer_ids import IdType, parse_customer_id
from ledger.domain.errors import InvalidInputError


@pytest.mark.parametrize(
    ("id_type", "raw", "normalised"),
    [
        ("domain", "Fabrikam.COM", "fabrikam.com"),
        ("domain", "https://www.fabrikam.com/about?x=1", "fabrikam.com"),
        ("domain", "sub.fabrikam.co.uk.", "sub.fabrikam.co.uk"),
        ("domain", "bücher.example", "xn--bcher-kva.example"),
        (
            "tenant_id",
            "{0F8FAD5B-D9CB-469F-A165-70867728950E}",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
        ),
        (
            "azure_subscription_id",
            " 0f8fad5bd9cb469fa16570867728950e ",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
        ),
        ("tpid", " 0012345 ", "12345"),
        ("msx_opportunity_id", "7-abcd12345", "7-ABCD12345"),
    ],
)
def test_r4_values_are_normalised(id_type: str, raw: str, normalised: str) -> None:
    customer_id = parse_customer_id(id_type, raw)
    assert (customer_id.type, customer_id.value) == (IdType(id_type), normalised)


@pytest.mark.parametrize(
    ("id_type", "raw"),
    [
        ("domain", "localhost"),
        ("domain", "no spaces.com"),
        ("domain", "-bad-.com"),
        ("domain", ""),
        ("tenant_id", "1234"),
        ("azure_subscription_id", "zz8fad5b-d9cb-469f-a165-70867728950e"),
        ("tpid", "12a45"),
        ("tpid", "-5"),
        ("msx_opportunity_id", "7-ABC"),
        ("msx_opportunity_id", "8-ABCD12345"),
        ("msx_opportunity_id", "7-ABCD1234567890"),
    ],
)
def test_r4_malformed_values_are_refused_naming_the_field(id_type: str, raw: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        parse_customer_id(id_type, raw)
    assert (refused.value.slug, refused.value.rule, refused.value.field) == (
        "invalid-customer-id",
        "R4",
        "customer_id.value",
    )


def test_r4_unknown_id_type_names_the_type_field() -> None:
    with pytest.raises(InvalidInputError) as refused:
        parse_customer_id("vat_number", "123")
    assert refused.value.field == "customer_id.type"


WELL_FORMED = {
    IdType.DOMAIN: st.from_regex(r"[a-z][a-z0-9]{0,20}\.[a-z]{2,10}", fullmatch=True),
    IdType.TENANT_ID: st.uuids().map(str),
    IdType.AZURE_SUBSCRIPTION_ID: st.uuids().map(lambda u: f" {{{u.hex.upper()}}} "),
    IdType.TPID: st.from_regex(r"[0-9]{1,15}", fullmatch=True),
    IdType.MSX_OPPORTUNITY_ID: st.from_regex(r"7-[A-Za-z0-9]{8,12}", fullmatch=True),
}
"""Per type, values it takes (each type's form, with the case and spacing it tolerates)."""


@given(st.sampled_from(list(IdType)).flatmap(lambda t: st.tuples(st.just(t), WELL_FORMED[t])))
def test_r4_well_formed_values_are_normalised_once_and_for_all(
    typed: tuple[IdType, str],
) -> None:
    id_type, raw = typed
    customer_id = parse_customer_id(id_type.value, raw)
    assert customer_id.type is id_type
    assert parse_customer_id(id_type.value, customer_id.value) == customer_id


@given(
    st.sampled_from(list(IdType)).flatmap(
        lambda t: st.tuples(st.just(t), st.one_of(st.text(max_size=400), WELL_FORMED[t]))
    )
)
def test_r4_any_text_is_either_normalised_or_refused_cleanly(typed: tuple[IdType, str]) -> None:
    id_type, raw = typed
    refusal: InvalidInputError | None = None
    try:
        customer_id = parse_customer_id(id_type.value, raw)
    except InvalidInputError as refused:
        refusal = refused
    if refusal is not None:  # cleanly: R4's problem, naming the value's field
        event("refused")
        assert (refusal.slug, refusal.rule, refusal.field) == (
            "invalid-customer-id",
            "R4",
            "customer_id.value",
        )
        return
    event("normalised")
    assert parse_customer_id(id_type.value, customer_id.value) == customer_id
