"""Languages of the page: English and Portuguese (Brazil), gettext catalogs compiled at start,
and dates, day counts and USD amounts formatted for the locale with Babel."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = {"en": "English", "pt-BR": "Português (Brasil)"}
DEFAULT = "en"
COOKIE = "ledger_lang"


def N_(text: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark ``text`` for translation (``./scripts/catalog`` extracts it) without translating
    it here: it is looked up in the reader's language where it is said."""
    return text


def negotiate(accept_language: str | None, chosen: str | None = None) -> str:
    """The chosen language if it is one of ours, else the best of the browser's, else English."""
    if chosen in LANGUAGES:
        return chosen
    preferred = []
    for part in (accept_language or "").split(","):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        if tag:
            preferred.append((weight, tag.strip()))
    ordered = [tag for _, tag in sorted(preferred, key=lambda p: -p[0])]
    found = Locale.negotiate(ordered, ["en", "pt_BR"], sep="-") if ordered else None
    if found is None:  # "pt" or "pt-PT" alone still reads Portuguese best of the two
        found = next((Locale("pt", "BR") for t in ordered if t.lower().startswith("pt")), None)
    return "pt-BR" if found is not None and found.language == "pt" else DEFAULT


def compile_catalog(language: str) -> NullTranslations:
    """The language's .po catalog, compiled in memory (English is the source language)."""
    po = LOCALES_DIR / language.replace("-", "_") / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language.replace("-", "_"))
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@cache
def translations(language: str) -> NullTranslations:
    """The language's catalog, compiled once per process (what e-mails are written with)."""
    return compile_catalog(language if language in LANGUAGES else DEFAULT)


@dataclass(frozen=True)
class Formats:
    """Dates, days and money as a person of ``language`` reads them."""

    language: str

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.language, sep="-")

    def date(self, moment: datetime | None) -> str:
        return "" if moment is None else format_date(moment, format="medium", locale=self.locale)

    def long_date(self, moment: datetime | None) -> str:
        """The date spelled out (``April 1, 2026``, ``1 de abril de 2026``): a deadline told."""
        return "" if moment is None else format_date(moment, format="long", locale=self.locale)

    def time(self, moment: datetime | None) -> str:
        """The time of day, to the minute (``8:45 PM``, ``20:45``), in the moment's zone."""
        if moment is None:
            return ""
        return format_time(moment, format="short", locale=self.locale, tzinfo=moment.tzinfo)

    def datetime(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_datetime(moment, format="medium", locale=self.locale, tzinfo=moment.tzinfo)

    def usd(self, amount: Decimal | None) -> str:
        return "" if amount is None else format_currency(amount, "USD", locale=self.locale)
