"""The consent e-mail: plain text and HTML, names escaped, the link whole on one line."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from ledger.policies.consent_email import write_eml
from ledger.policies.consent_message import ConsentMail

LINK = "http://127.0.0.1:8100/consent/" + "eyJhbGciOiJIUzI1NiJ9." * 12 + "s1gn-_x"


def mail(**changes: object) -> ConsentMail:
    values: dict[str, object] = {
        "email_id": "0b6f3c1e-5a4e-5d7a-9c55-1f0f5e9b2a10",
        "recipient": "cio@fabrikam.com",
        "partner": "Contoso Consulting",
        "engagement": "Azure migration workshop",
        "customer": "Fabrikam",
        "expires_at": datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
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
    message = mail(customer="Société Générale").message("claims@ledger.example")
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
        partner="Tom & Jerry <script>",
        engagement='"Quoted" <b>',
        customer="<img src=x onerror=alert(1)>",
        link=LINK + '"&<',
    )
    html = nasty.html()
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
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
    assert "Contoso Consulting indicou Fabrikam" in plain
    assert "<strong>Contoso Consulting</strong> indicou" in html
    for part in (plain, html):
        assert "1 de abril de 2026" in part and "os links anteriores não funcionam mais" in part
    assert '<html lang="pt-BR">' in html
    assert "Hello" not in plain
