"""A claim's page in the reader's words and time zone (SPEC 12): its history a line per event
in English or Portuguese, erased personal data in words, its deadlines in the order they run,
and every time in the zone the person chose (a cookie; UTC unless they chose another)."""

from __future__ import annotations

import html
import re

from ledger.domain.commands import Review
from ledger.runtime.erasure import forget
from ledger.words.i18n import ZONE_COOKIE, Formats
from tests.factories import ADMIN_A, AUDITOR, REVIEWER
from tests.web.client import Site, submitted

PORTUGUESE = {"Accept-Language": "pt-BR,pt;q=0.9"}


def words(page: str, start: str = 'id="history"', end: str | None = None) -> str:
    """What a person reads of the page from ``start`` (to ``end``): its text, without tags,
    white space (no-break spaces too) as single spaces."""
    part = page[page.index(start) :]
    part = part[: part.index(end)] if end else part
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", part)).split())


def test_the_history_in_portuguese(site: Site) -> None:
    claim_id = site.awaiting()
    site.services.workers.run_once()  # the referral policy: an event of the ledger's own
    page = site.get(f"/claims/{claim_id}", headers=PORTUGUESE)
    assert page.status_code == 200
    history = words(page.text)
    for line in (
        "Cliente adicionado e reivindicado por ann@a.example: cliente Fabrikam;",
        "compromisso Migration workshop (E-WS); local LOC-A1;",
        "pagamento fixo US$ 5.000,00;",
        "comprovação exigida Fatura, Documento de comprovação de execução,",
        "Consentimento solicitado por ann@a.example: tamanho do negócio US$ 20.000,00;",
        "contato do cliente Cora Customer (cio@fabrikam.com)",
        "Indicação aberta pelo sistema: indicação",
    ):
        assert line in history, line
    for raw in (
        "ConsentRequested",
        "Consent requested",
        "eligibility_key",
        "deadline_days",
        "link_id",
        "min_deal_size",
        "(user)",
        "20000",
        "T09:",
    ):
        assert raw not in history, raw
    assert 'data-label="O que aconteceu"' in page.text  # a labelled block per row at 320 px


def test_erased_personal_data_reads_erased_in_the_readers_words(site: Site) -> None:
    claim_id = site.consented()
    services = site.services
    mail = site.settings.mail_directory()
    forget(services.ledger, services.workers.views, mail, AUDITOR, "cio@fabrikam.com", site.clock())
    site.sign_in(AUDITOR)
    history = words(site.get(f"/claims/{claim_id}", headers=PORTUGUESE).text)
    assert "Consentimento dado pelo cliente ([apagado]):" in history
    assert "contato do cliente [apagado];" in history
    assert "cio@fabrikam.com" not in history and "[erased]" not in history


def test_the_deadlines_in_the_order_they_run(site: Site) -> None:
    claim_id = submitted(site)
    ledger, now = site.services.ledger, site.clock()
    ledger.review(REVIEWER, claim_id, Review(action="start"), now)
    ledger.review(REVIEWER, claim_id, Review(action="reject", reason="no invoice"), now)
    row = site.read_models.claims.details(ADMIN_A, claim_id)  # the views caught up
    kinds = ["consent", "submission", "post_submission", "dispute"]
    assert [kind.value for kind in row.deadlines] == kinds  # the API's order too
    page = site.get(f"/claims/{claim_id}").text
    table = words(page, "Deadlines of this claim", "</table>")
    names = ("Customer consent", "First submission", "Review completion", "Dispute")
    found = [table.index(name) for name in names]
    assert found == sorted(found), table


def test_times_show_in_the_zone_a_person_chose(site: Site) -> None:
    claim_id = site.awaiting()
    created = site.read_models.claims.details(ADMIN_A, claim_id).created_at
    path = f"/claims/{claim_id}"
    page = site.get(path).text
    assert "Time zone: UTC" in words(page, "<header", "</header>")  # by default
    assert Formats("en").datetime(created) in page and Formats("en").datetime(created).endswith(
        " UTC"
    )

    form = site.get("/time-zone", params={"next": path})
    assert form.status_code == 200
    assert '<option value="UTC" selected>' in form.text
    assert (
        '<option value="America/Sao_Paulo">Brazil (São Paulo) Time (UTC-03:00)</option>'
        in form.text
    )
    chosen = site.get("/time-zone", params={"zone": "America/Sao_Paulo", "next": path})
    assert chosen.status_code == 303 and chosen.headers["location"] == path
    assert site.client.cookies.get(ZONE_COOKIE, "").strip('"') == "America/Sao_Paulo"

    page = site.get(path, headers=PORTUGUESE).text
    in_brasilia = Formats("pt-BR", "America/Sao_Paulo").datetime(created)
    assert in_brasilia.endswith(" BRT") and in_brasilia in page
    header = words(page, "<header", "</header>")
    assert "Fuso horário: Brasil (São Paulo)" in header and "Horário" not in header  # once
    assert f"{in_brasilia} Cliente adicionado" in words(page)  # the history's times too
    again = site.get("/time-zone", params={"next": path})
    assert '<option value="America/Sao_Paulo" selected>' in again.text
    english = words(site.get(path).text, "<header", "</header>")
    assert "Time zone: Brazil (São Paulo)" in english and "Paulo) Time" not in english


def test_the_zone_list_leaves_out_legacy_aliases(site: Site) -> None:
    """Europe/Belfast, Asia/Calcutta, Australia/ACT, Australia/Currie are other names of
    zones on the list (CLDR's aliases): not each a second time; a cookie of one reads as its
    zone."""
    form = site.get("/time-zone").text
    for alias in ("Europe/Belfast", "Asia/Calcutta", "Australia/ACT", "Australia/Currie"):
        assert f'value="{alias}"' not in form, alias
    for zone in ("Europe/London", "Asia/Kolkata", "Australia/Sydney", "Australia/Hobart"):
        assert f'value="{zone}"' in form, zone
    site.client.cookies.set(ZONE_COOKIE, "Asia/Calcutta")
    assert "Time zone: India" in words(site.get("/").text, "<header", "</header>")


def test_a_zone_that_is_not_one_is_refused_and_a_bad_cookie_reads_utc(site: Site) -> None:
    claim_id = site.awaiting()
    refused = site.get("/time-zone", params={"zone": "Mars/Olympus_Mons", "next": "/claims"})
    assert refused.status_code == 422 and "Choose a time zone of the list." in refused.text
    assert 'aria-invalid="true"' in refused.text and ZONE_COOKIE not in site.client.cookies
    away = site.get("/time-zone", params={"zone": "Europe/Lisbon", "next": "https://x.example/"})
    assert away.status_code == 303 and away.headers["location"] == "/"  # only this site's paths
    site.client.cookies.delete(ZONE_COOKIE)

    site.client.cookies.set(ZONE_COOKIE, "../../etc/localtime")
    page = site.get(f"/claims/{claim_id}").text
    assert "Time zone: UTC" in words(page, "<header", "</header>")
    created = site.read_models.claims.details(ADMIN_A, claim_id).created_at
    assert Formats("en").datetime(created) in page
