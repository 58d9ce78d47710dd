"""Every refusal the code can give, and every problem a command's validation can find, has a
sentence of its own in ``ledger.words.refusals``, in English and in Portuguese (Brazil): a
sentence that names the field and says what to do, never a library's text, a slug or an
internal name (SPEC 12). A new slug without a message, or a field without a label, fails here.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from api.schemas import EraseContact
from ledger.domain.commands import (
    Cancel,
    CreateClaims,
    Dispute,
    EligibilityCheck,
    RequestConsent,
    Review,
    Submit,
    field_problems,
)
from ledger.domain.customer_ids import IdType, parse_customer_id
from ledger.domain.errors import InvalidInputError, Problem
from ledger.interface.bodies import ConsentAnswer
from ledger.words.i18n import negotiate
from ledger.words.refusals import (
    FALLBACK,
    MESSAGES,
    NAMES,
    REASONS,
    label,
    say,
    source,
)

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("en", "pt-BR")
LIBRARY_TEXT = (
    "should",
    "Input should",
    "valid decimal",
    "at least 1 item",
    "after validation",
    "value is not",
    "Field required",
    "Extra inputs",
    "String ",
    "List ",
    "Error)",
    "Error:",
    "There must be something",
)
INTERNAL_NAME = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")
"""A snake_case name (tenant_id, msx_opportunity_id, eligibility_key): never in a sentence."""
SAME_IN_BOTH = {
    "TPID",
    "Auditor",
    "%(engagement)s: %(reason)s.",
    "%(engagement)s: %(reason)s (%(hint)s).",
}
"""Words that Portuguese writes as English does."""
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


# -- the refusals the code raises, found in its source ------------------------------------------


def sources() -> list[Path]:
    return sorted(p for folder in ("ledger", "api", "web") for p in (ROOT / folder).rglob("*.py"))


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def error_classes(trees: list[ast.Module]) -> set[str]:
    """LedgerError and every class of ours that derives from it."""
    found = {"LedgerError"}
    classes = [n for t in trees for n in ast.walk(t) if isinstance(n, ast.ClassDef)]
    while True:
        more = {c.name for c in classes if any(_name(b) in found for b in c.bases)} - found
        if not more:
            return found
        found |= more


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def raised() -> set[tuple[str, str | None]]:
    """Every (slug or words key, field) the code constructs a refusal with: each constructor
    call of a LedgerError class (its first argument, a literal), each ``super().__init__``
    of one, and each ``Words("key", ...)``."""
    trees = [ast.parse(path.read_text()) for path in sources()]
    errors = error_classes(trees)
    found: set[tuple[str, str | None]] = set()
    for call in (n for t in trees for n in ast.walk(t) if isinstance(n, ast.Call)):
        name = _name(call.func)
        first = _text(call.args[0]) if call.args else None
        if first is None:
            continue
        if name in errors or name == "__init__":
            words = _keyword(call, "words")
            if not isinstance(words, ast.Call):  # a refusal said by its own slug
                found.add((first, _text(_keyword(call, "field"))))
        elif name == "Words":
            field = _text(call.args[1]) if len(call.args) > 1 else _text(_keyword(call, "field"))
            found.add((first, field))
    return found


RAISED = sorted(raised(), key=lambda k: (k[0], k[1] or ""))


def test_the_scan_finds_the_refusals_of_every_layer() -> None:
    keys = {k for k, _ in RAISED}
    assert {"claim-already-exists", "invalid-customer-id", "role-required"} <= keys
    assert {"contact-erased", "consent-link-superseded", "token-invalid", "hint-not-listed"} <= keys
    assert ("disclaimer-not-accepted", "disclaimer_accepted") in RAISED
    assert len(RAISED) > 50


# -- what a sentence must be ---------------------------------------------------------------


def sample_params(key: str, field: str | None) -> dict[str, object]:
    """A value for every placeholder the sentence has (a number: the same in both languages)."""
    english = source(key, field) or ""
    names = {n for n in PLACEHOLDER.findall(english) if n not in {"field", "Field"}}
    return {n[:1].lower() + n[1:]: "7" for n in names}


def assert_said_well(key: str, field: str | None, params: dict[str, object]) -> None:
    english = source(key, field)
    assert english is not None, f"no sentence for {key} on {field}"
    said = {language: say(key, field, params, language) for language in LANGUAGES}
    slugs = {k for k, _ in MESSAGES if "-" in k} | set(REASONS)
    for language, sentence in said.items():
        assert sentence != say(FALLBACK, language=language), (key, field, language)
        for text in LIBRARY_TEXT:
            assert text not in sentence, (key, field, language, sentence)
        assert not INTERNAL_NAME.search(sentence), (key, field, language, sentence)
        assert not [s for s in slugs if re.search(rf"(?<![\w-]){s}(?![\w-])", sentence)], sentence
    if english not in SAME_IN_BOTH:
        assert said["pt-BR"] != said["en"], f"{key} on {field} is not translated"


@pytest.mark.parametrize(("key", "field"), RAISED)
def test_every_refusal_the_code_raises_is_said_in_both_languages(
    key: str, field: str | None
) -> None:
    assert_said_well(key, field, sample_params(key, field))


@pytest.mark.parametrize("key", sorted(MESSAGES, key=str))
def test_every_sentence_of_the_table_is_said_in_both_languages(
    key: tuple[str, str | None],
) -> None:
    assert_said_well(*key, sample_params(*key))


def test_every_reason_and_name_is_translated() -> None:
    from ledger.words.i18n import translations

    portuguese = translations("pt-BR").gettext
    for text in [*REASONS.values(), *NAMES.values()]:
        assert text in SAME_IN_BOTH or portuguese(text) != text, text


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (IdType.DOMAIN, "not a host"),
        (IdType.TENANT_ID, "not-a-guid"),
        (IdType.AZURE_SUBSCRIPTION_ID, "not-a-guid"),
        (IdType.TPID, "12ab"),
        (IdType.MSX_OPPORTUNITY_ID, "8-123"),
        (IdType.TPID, "1" * 301),
    ],
)
def test_a_malformed_customer_id_says_what_that_id_looks_like(kind: IdType, value: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        parse_customer_id(kind.value, value)
    words = refused.value.words
    assert refused.value.slug == "invalid-customer-id" and words.key.startswith("customer_id_")
    assert_said_well(words.key, words.field, dict(words.params))
    assert "for example" in refused.value.detail or "at most 300" in refused.value.detail


def test_a_tpid_says_it_in_portuguese_as_the_spec_does() -> None:
    with pytest.raises(InvalidInputError) as refused:
        parse_customer_id("tpid", "12ab")
    assert refused.value.say("pt-BR") == "Um TPID contém apenas dígitos, por exemplo 1000000."


# -- every validation problem of every command's body --------------------------------------------

CONTACTS = {
    "customer": {"name": "Cora Customer", "email": "cio@fabrikam.com", "language": "en"},
    "partner": {"name": "Pat Partner", "email": "pat@a.example"},
}
CUSTOMER_ID = {"type": "tenant_id", "value": "0f8fad5b-d9cb-469f-a165-70867728950e"}
BODIES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (
        CreateClaims,
        {
            "origin": "added",
            "friendly_name": "Fabrikam",
            "location_id": "LOC-A1",
            "customer_id": CUSTOMER_ID,
            "engagement_ids": ["E-WS"],
            "contacts": CONTACTS,
            "tenant_mismatch_reason": "the CIO's own address",
            "hours": 10,
        },
    ),
    (
        EligibilityCheck,
        {"location_id": "LOC-A1", "customer_id": CUSTOMER_ID, "engagement_ids": ["E-WS"]},
    ),
    (
        RequestConsent,
        {"deal_size_usd": "20000.00", "disclaimer_accepted": True, "contacts": CONTACTS},
    ),
    (Submit, {"proof": [{"kind": "invoice", "reference": "invoice.pdf"}]}),
    (Cancel, {"reason": "the customer chose another partner"}),
    (Dispute, {"reason": "the survey is attached"}),
    (Review, {"action": "reject", "reason": "the invoice is missing"}),
    (ConsentAnswer, {"decision": "accept"}),
    (EraseContact, {"email": "cio@fabrikam.com"}),
]
BAD_VALUES: list[object] = [
    "",
    "   ",
    "x" * 3000,
    "two\nlines",
    "a\x01b",
    "nope",
    "-1",
    "0",
    "1.234",
    "1e400",
    "9" * 20,
    7,
    1.5,
    None,
    True,
    [],
    ["x"] * 60,
    {},
]

Path_ = tuple[str | int, ...]


def leaves(value: object, path: Path_ = ()) -> Iterator[Path_]:
    """Every path of a body: each object's fields and each list's items, and the lists."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))


def changed(body: dict[str, Any], path: Path_, value: object, *, drop: bool = False) -> Any:
    copied = copy.deepcopy(body)
    target: Any = copied
    for part in path[:-1]:
        target = target[part]
    if drop:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copied


def bad_bodies(body: dict[str, Any]) -> Iterator[Any]:
    for path in leaves(body):
        for value in BAD_VALUES:
            yield changed(body, path, value)
        if isinstance(path[-1], str):
            yield changed(body, path, None, drop=True)
            yield changed(body, (*path[:-1], "unknown"), 1)
    yield "not an object"


def problems_of(model: type[BaseModel], body: dict[str, Any]) -> list[Problem]:
    found: list[Problem] = []
    for bad in bad_bodies(body):
        try:
            model.model_validate(bad)
        except ValidationError as error:
            found += field_problems(error.errors())
    return found


PROBLEMS = sorted(
    {
        (p.words.key, p.field, tuple(sorted((k, str(v)) for k, v in p.words.params.items())))
        for model, body in BODIES
        for p in problems_of(model, body)
    },
    key=str,
)


def test_the_bad_bodies_find_the_problems_people_meet() -> None:
    kinds = {key for key, _, _ in PROBLEMS}
    assert {"missing", "string_too_short", "string_too_long", "string_one_line"} <= kinds
    assert {"value_error", "decimal_parsing", "int_parsing", "too_short", "literal_error"} <= kinds
    assert {"enum", "extra_forbidden", "greater_than", "bool_parsing"} <= kinds


@pytest.mark.parametrize(("key", "field", "params"), PROBLEMS)
def test_every_problem_of_a_command_names_its_field_in_both_languages(
    key: str, field: str | None, params: tuple[tuple[str, str], ...]
) -> None:
    specific = (key, field) in MESSAGES or (key, re.sub(r"\.\d+", ".*", field or "")) in MESSAGES
    assert specific or label(field) is not None or key in {"extra_forbidden"}, (
        f"{field} has no label for {key}"
    )
    assert_said_well(key, field, dict(params))


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7", "pt-BR"),  # a Brazilian browser, as sent
        ("pt-BR", "pt-BR"),
        ("pt", "pt-BR"),
        ("en-US,en;q=0.9,pt-BR;q=0.8", "en"),
        ("de-DE", "en"),
        (None, "en"),
    ],
)
def test_the_language_asked_for_is_the_one_said(header: str | None, language: str) -> None:
    assert negotiate(header) == language
