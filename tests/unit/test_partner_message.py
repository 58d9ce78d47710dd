"""The partner contact's notification e-mail: every kind in both languages says something for
people (no slug, no placeholder left), the names are escaped in HTML, the link is whole."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ledger.policies.partner_message import PartnerMail
from ledger.words.notices import REMIND, SUBJECTS, WHY_EXPIRED, NoticeFacts

LINK = "https://claims.example/claims/0b0c3a4e-0000-4000-8000-000000000000"


def mail(kind: str, language: str, **facts: object) -> PartnerMail:
    said = NoticeFacts(
        kind=kind,
        contact=str(facts.get("contact", "Pat Partner")),
        claim=str(facts.get("claim", "Fabrikam Q3")),
        customer="Fabrikam",
        engagement="Data assessment",
        deadline=datetime(2026, 4, 1, tzinfo=UTC),
        detail=facts.get("detail", "consent"),  # type: ignore[arg-type]
        state=facts.get("state"),  # type: ignore[arg-type]
        payout_usd=Decimal("2500.00"),
    )
    return PartnerMail(
        "e-1", "pat@a.example", said, LINK, datetime(2026, 3, 1, tzinfo=UTC), language
    )


@pytest.mark.parametrize("language", ["en", "pt-BR"])
@pytest.mark.parametrize("kind", sorted(SUBJECTS))
def test_every_kind_speaks_to_people_in_both_languages(kind: str, language: str) -> None:
    states = list(REMIND) if kind == "deadline_reminder" else [None]
    details = list(WHY_EXPIRED) if kind == "expired" else ["Attach the signed POE."]
    for state in states:
        for detail in details:
            message = mail(kind, language, state=state, detail=detail).message(None)
            text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
            words = text.split(LINK)[0]
            assert "_" not in words and "%(" not in words and "None" not in words, words
            assert LINK in text.splitlines() and f'href="{LINK}"' in html
            assert "Fabrikam Q3" in str(message["Subject"])
            assert message["Content-Language"] == language


def test_names_are_escaped_in_html_and_comments_keep_their_lines() -> None:
    message = mail(
        "information_requested", "en", claim="<b>Q3</b> & co", detail="One.\nTwo <i>"
    ).message("claims@ledger.example")
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "&lt;b&gt;Q3&lt;/b&gt; &amp; co" in html and "<b>Q3" not in html
    assert "One.<br>\nTwo &lt;i&gt;" in html
    assert "> One.\n> Two <i>" in text
    assert message["Message-ID"] == "<e-1@claim-ledger>"
