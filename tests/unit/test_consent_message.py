"""The consent e-mail: plain text and HTML, names escaped, the link whole on one line."""

from __future__ import annotations

import email
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from ledger.policies.consent_email import write_eml
from ledger.policies.consent_message import ConsentMail
from ledger.words.consent import ConsentFacts

LINK = "http://127.0.0.1:8100/consent/" + "eyJhbGciOiJIUzI1NiJ9." * 12 + "s1gn-_x"


FACTS = ConsentFacts(
    partner="Contoso Consulting",
    partner_contact="Alice Alves",
    partner_email="alice@contoso.example",
    customer="Fabrikam",
    engagement="Azure migration workshop",
    kind="workshop",
    deal_size_usd=Decimal("20000.00"),
    expires_at=datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
)


def mail(facts: dict[str, object] | None = None, **changes: object) -> ConsentMail:
    values: dict[str, object] = {
        "email_id": "0b6f3c1e-5a4e-5d7a-9c55-1f0f5e9b2a10",
        "recipient": "cio@fabrikam.com",
        "facts": replace(FACTS, **(facts or {})),  # type: ignore[arg-type]
        "link": LINK,
        "requested_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        **changes,
    }
    return ConsentMail(**values)  # type: ignore[arg-type]


def parts(message: EmailMessage) -> tuple[str, str]:
    parsed = email.message_from_bytes(message.as_bytes(), policy=default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_both_parts_name_the_partner_engagement_customer_and_carry_the_whole_link() -> None:
    message = mail({"customer": "Société Générale"}).message("claims@ledger.example")
    assert message["Date"] == "Mon, 02 Mar 2026 09:00:00 +0000"  # RFC 5322 wants one
    subject = "Contoso Consulting asks for your consent: Azure migration workshop"
    assert message["Subject"] == subject
    raw = message.as_bytes().decode()
    assert LINK in raw.splitlines()  # on a line of its own: no soft line breaks
    assert "quoted-printable" not in raw and "base64" not in raw
    for part in parts(message):
        assert "Contoso Consulting" in part and "Azure migration workshop" in part
        assert "Société Générale" in part and "April 1, 2026" in part
        assert LINK in part.splitlines()
    assert f'href="{LINK}"' in parts(message)[1]


def test_every_value_put_into_html_is_escaped() -> None:
    nasty = mail(
        {
            "partner": "Tom & Jerry <script>",
            "engagement": '"Quoted" <b>',
            "customer": "<img src=x onerror=alert(1)>",
            "partner_contact": "<i>Al</i>",
        },
        link=LINK + '"&<',
    )
    html = nasty.html()
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "<i>" not in html and "&lt;i&gt;Al&lt;/i&gt;" in html
    assert "Tom &amp; Jerry &lt;script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert f'href="{LINK}&quot;&amp;&lt;"' in html
    assert "Tom & Jerry <script>" in nasty.text()  # plain text stays as it is


def test_a_reminder_says_so() -> None:
    reminder = mail(reminder=True)
    assert reminder.subject.startswith("Reminder: ")
    assert all("earlier links no longer work" in part for part in parts(reminder.message(None)))


def test_an_eml_file_is_written_whole(tmp_path: Path) -> None:
    folder = tmp_path / "not" / "yet"
    path = write_eml(folder, "one.eml", mail().message(None))
    assert path == folder / "one.eml"
    assert [p.name for p in folder.iterdir()] == ["one.eml"]  # no partial file left
    plain, _ = parts(email.message_from_bytes(path.read_bytes(), policy=default))
    assert LINK in plain.splitlines()


def test_the_email_is_written_in_the_language_picked_for_the_contact() -> None:
    message = mail(language="pt-BR", reminder=True).message(None)
    assert message["Subject"] == (
        "Lembrete: Contoso Consulting pede o seu consentimento: Azure migration workshop"
    )
    assert message["Content-Language"] == "pt-BR"
    plain, html = parts(message)
    assert "Contoso Consulting pede que Fabrikam confirme o compromisso" in plain
    assert "<strong>Contoso Consulting</strong> pede que <strong>Fabrikam</strong>" in html
    for part in (plain, html):
        assert "1 de abril de 2026" in part and "os links anteriores não funcionam mais" in part
    assert '<html lang="pt-BR">' in html
    assert "Hello" not in plain


def test_both_parts_say_who_asks_what_it_gives_what_consenting_means_and_the_deal() -> None:
    """SPEC 12: the customer named by its tenant's name; who asks (the partner and its
    contact), what the engagement gives, what consenting means, that declining costs nothing,
    the deal size and the deadline; the same in both parts."""
    message = mail({"customer": "Wide World Importers"}).message(None)
    for part in parts(message):
        flat = " ".join(part.replace("<strong>", "").replace("</strong>", "").split())
        assert (
            "Contoso Consulting asks Wide World Importers to confirm the engagement "
            "Azure migration workshop" in flat
        )
        assert (
            "A workshop delivered by Contoso Consulting and funded by the programme, "
            "at no cost to Wide World Importers." in flat
        )
        assert "may claim programme funding for this engagement with Wide World Importers" in flat
        assert "Declining costs you nothing and changes nothing else" in flat
        assert "Estimated deal size: $20,000.00" in flat
        assert "Your contact at Contoso Consulting: Alice Alves (alice@contoso.example)" in flat
        assert "Please accept or decline by April 1, 2026:" in flat


def test_each_kind_of_engagement_says_what_it_gives() -> None:
    for kind, gives in [
        ("assessment", "An assessment delivered by"),
        ("project_m", "A project delivered by"),
        ("project_xs", "A project delivered by"),
        (None, "An engagement delivered by"),  # one that has left the catalog
    ]:
        assert gives in mail({"kind": kind}).text()
    brazilian = mail({"kind": "assessment"}, language="pt-BR").text()
    assert "Uma avaliação realizada por Contoso Consulting e financiada pelo programa" in brazilian
    assert "Tamanho estimado do negócio: US$\xa020.000,00" in brazilian


def test_no_deal_size_yet_leaves_its_line_out() -> None:
    text = mail({"deal_size_usd": None}).text()
    assert "deal size" not in text and "Your contact at Contoso Consulting" in text


def test_the_html_link_is_words_and_the_address_wraps_below_it() -> None:
    """The link's text is words; the ~330-character address follows in a paragraph that may
    break anywhere (a phone's screen holds the message); the plain text keeps it alone on a
    line."""
    plain, html = parts(mail().message(None))
    assert f'<a href="{LINK}">Answer the consent request</a>' in html
    address = html.split(f"{LINK}\n</p>")[0].rsplit("<p", 1)[1]
    assert 'style="word-break:break-all;overflow-wrap:anywhere">' in address
    assert LINK in plain.splitlines()
    brazilian = mail(language="pt-BR").html()
    assert f'<a href="{LINK}">Responder ao pedido de consentimento</a>' in brazilian


def test_the_contact_is_greeted_by_name_and_the_partner_contact_said_in_good_portuguese() -> None:
    for part in parts(mail({"customer_contact": "Dana Lee"}).message(None)):
        assert "Hello Dana Lee," in part
    brazilian = mail({"customer_contact": "Dana Lee"}, language="pt-BR")
    for part in parts(brazilian.message(None)):
        assert "Olá, Dana Lee," in part
    text = brazilian.text()
    assert "Seu contato na empresa Contoso Consulting: Alice Alves" in text
    assert "Seu contato em" not in text
    assert mail().text().startswith("Hello,\n")  # no name known: the plain greeting
