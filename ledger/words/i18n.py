"""Languages of the page: English and Portuguese (Brazil), gettext catalogs compiled at start,
and dates, day counts and USD amounts formatted for the locale with Babel."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberFormatError, format_currency, format_decimal, parse_decimal
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = {"en": "English", "pt-BR": "Português (Brasil)"}
DEFAULT = "en"
COOKIE = "ledger_lang"


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
    found = Locale.negotiate(ordered, ["en", "pt-BR"], sep="-") if ordered else None
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


@dataclass(frozen=True)
class Formats:
    """Dates, days and money as a person of ``language`` reads them."""

    language: str

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.language, sep="-")

    def date(self, moment: datetime | None) -> str:
        return "" if moment is None else format_date(moment, format="medium", locale=self.locale)

    def datetime(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_datetime(moment, format="medium", locale=self.locale, tzinfo=moment.tzinfo)

    def usd(self, amount: Decimal | None) -> str:
        return "" if amount is None else format_currency(amount, "USD", locale=self.locale)

    def amount(self, value: Decimal | int) -> str:
        """A number with two decimals as this language writes it: 15,000.50 or 15.000,50."""
        return format_decimal(value, format="#,##0.00", locale=self.locale)

    def read_amount(self, text: str) -> Decimal | None:
        """An amount as a person types it: in this language ("15.000,50" in pt-BR,
        "15,000.50" in English), or plain ("15000.50") in both, with at most two decimals and
        perhaps a dollar sign; None when it is not one."""
        typed = _CURRENCY.sub("", text.strip())
        if not _TYPED_NUMBER.fullmatch(typed):
            return None
        try:
            value = parse_decimal(typed, locale=self.locale, strict=True)
        except NumberFormatError:
            if not _PLAIN_NUMBER.fullmatch(typed):
                return None
            value = Decimal(typed)
        exponent = value.as_tuple().exponent
        return value if isinstance(exponent, int) and exponent >= -2 else None

    def read_whole(self, text: str) -> int | None:
        """A whole number as a person types it ("1.000" in pt-BR, "1,000" in English, or
        plain); None when it is not one."""
        value = self.read_amount(text)
        return int(value) if value is not None and value == value.to_integral_value() else None


_CURRENCY = re.compile(r"^(?:US\$|\$|USD)\s*|\s*(?:USD)$", re.IGNORECASE)
_TYPED_NUMBER = re.compile(r"-?[0-9][0-9.,]*")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
