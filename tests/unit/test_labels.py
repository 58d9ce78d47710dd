"""The page's lists of words to translate (``web/labels.py``) against the aggregate's labels
and the catalogs: a state or an action added without its label, in English or in
Portuguese, fails here."""

from __future__ import annotations

import re

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from ledger.aggregates.claim import ALLOWED_ACTIONS, Action, ClaimState, action_label
from ledger.words import i18n
from web import labels

NOT_OFFERED_AS_ACTIONS = {Action.ANSWER_CONSENT}
"""Answered on the consent page, with words of its own (Accept, Decline)."""
PAGE_ONLY_ACTIONS = {"Claim customer"}
"""The Customers page's action on a known customer: no claim exists yet."""


def catalog(language: str | None) -> Catalog:
    """The template catalog (None) or a language's."""
    if language is None:
        path = i18n.LOCALES_DIR / "messages.pot"
    else:
        path = i18n.LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        return read_po(source)


def test_every_state_has_its_label_marked_for_translation() -> None:
    assert sorted(labels.STATE_LABELS) == sorted(s.label for s in ClaimState)


def test_every_action_a_page_offers_has_its_label_marked_for_translation() -> None:
    allowed = {a for actions in ALLOWED_ACTIONS.values() for a in actions}
    assert allowed == set(Action)  # an action no state allows would be offered nowhere
    offered = {
        action_label(state, action)
        for state, actions in ALLOWED_ACTIONS.items()
        for action in actions
        if action not in NOT_OFFERED_AS_ACTIONS
    }
    assert sorted(labels.ACTION_LABELS) == sorted(offered | PAGE_ONLY_ACTIONS)


def test_every_label_is_in_the_template_and_translated() -> None:
    template, portuguese = catalog(None), catalog("pt_BR")
    for text in [*labels.STATE_LABELS, *labels.ACTION_LABELS]:
        assert text in template, text
        message = portuguese.get(text)
        assert message is not None and message.string and not message.fuzzy, text


def test_portuguese_has_no_untranslated_or_fuzzy_entry() -> None:
    """What ``msgfmt --statistics`` would report: every message translated, none fuzzy, and
    each translation asks for the placeholders its English text gives (a missing or misspelt
    ``%(field)s`` would break the sentence at run time)."""
    template, portuguese = catalog(None), catalog("pt_BR")
    placeholder = re.compile(r"%\((\w+)\)[sd]")
    for message in template:
        if not message.id:
            continue
        found = portuguese.get(message.id)
        assert found is not None, message.id
        assert not found.fuzzy, message.id
        strings = [str(t) for t in _texts(found.string)]
        ids = [str(t) for t in _texts(message.id)]
        assert all(strings), f"untranslated: {message.id!r}"
        wanted = {p for text in ids for p in placeholder.findall(text)}
        for text in strings:
            assert set(placeholder.findall(text)) <= wanted, (message.id, text)


def _texts(value: object) -> list[object]:
    """A message's text, or its singular and plural forms."""
    return list(value) if isinstance(value, (tuple, list)) else [value]
