"""The Portuguese (Brazil) catalog speaks of a claim with one noun, "declaração" (the seed's
"ID da declaração"), and the states of a claim agree with it; the seed's own words stand where
they apply. A new entry that calls a claim something else, or a state "Aprovado" beside
"Enviada", fails here."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from ledger.aggregates.claim import ClaimState
from ledger.words import i18n

CLAIM = "declaraç"
"""declaração, declarações: a claim, everywhere."""
OTHER_NOUNS = ("reivindicaç", "solicitaç", "requisiç", "alegaç", "reclamaç")
"""What a claim is called elsewhere (and "solicitação", a request: here a request is a
"pedido", as in "pedido de consentimento")."""
VERB_USES = re.compile(
    r"\b(?:claim customer|customer claimed|claimed known customer|"
    r"(?:may (?:not )?|cannot |can )claim|claim (?:it|them)|claim ledger)\b",
    re.I,
)
"""Where English "claim" is not the noun (claiming a customer, the product's name)."""
PARTICIPLE = re.compile(r"\b\w+(?:ad|id)([oa])s?\b")
SEED = {
    "Customers": "Clientes",
    "Eligible": "Qualificado",
    "Ineligible": "Não qualificado",
    "Completed": "Concluído",
    "Add customer": "Adicionar cliente",
    "Claim customer": "Reivindicar cliente",
    "Send customer consent email": "Enviar email de consentimento do cliente",
    "Resend consent email": "Reenviar e-mail para consentimento do cliente",
    "Resend customer consent email": "Reenviar e-mail para consentimento do cliente",
    "Next": "Avançar",
    "Send for consent": "Enviar para consentimento",
    "Claim ID": "ID da declaração",
}


def portuguese() -> dict[str, str]:
    """Every message of the pt-BR catalog (a plural by its singular, its forms joined)."""
    path = i18n.LOCALES_DIR / "pt_BR" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source)
    found = {}
    for message in catalog:
        if message.id:
            key = message.id if isinstance(message.id, str) else message.id[0]
            forms = message.string
            text = forms if isinstance(forms, str) else " ".join(forms or ())
            found[key] = text
    return found


def test_the_states_of_a_claim_agree_with_declaracao() -> None:
    """A state the customer or its consent is in (Cliente reivindicado, Consentimento do
    cliente recebido) agrees with them; every other state is the claim's: feminine."""
    words = portuguese()
    for state in ClaimState:
        label = words[state.label]
        endings = PARTICIPLE.findall(label)
        about_the_customer = state.label.startswith("Customer")
        expected = "o" if about_the_customer else "a"
        assert all(e == expected for e in endings), f"{state.label!r} -> {label!r}"
    for english in ("Approved", "Canceled", "Submitted", "Rejected", "Disputed"):
        assert words[english].endswith("a"), english  # never "Aprovado" beside "Enviada"
    assert words["Not submitted expired"] == "Expirada sem envio"


def test_a_claim_has_one_noun_in_the_catalog() -> None:
    texts = portuguese()  # the consent e-mail's sentences are in the catalog too
    for english, text in texts.items():
        lowered = text.lower()
        assert not [n for n in OTHER_NOUNS if n in lowered], f"{english!r} -> {text!r}"
        if re.search(r"\bclaims?\b", VERB_USES.sub("", english), re.I):
            assert CLAIM in lowered, f"{english!r} -> {text!r}"
        if "pedido" in lowered:  # a request (of consent), never a claim
            assert "request" in english.lower(), f"{english!r} -> {text!r}"


def test_the_seeds_words_stand() -> None:
    words = portuguese()
    for english, seed in SEED.items():
        assert words[english] == seed, english
