"""Languages of the page: English and Portuguese (Brazil), gettext catalogs compiled at start,
and dates, day counts and USD amounts formatted for the locale with Babel; times in the time
zone a person chose (a cookie; UTC unless they chose another), the zone named."""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.core import get_global
from babel.dates import (
    format_date,
    format_datetime,
    format_skeleton,
    format_time,
    get_timezone_location,
)
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import (
    NumberFormatError,
    format_currency,
    format_decimal,
    format_percent,
    parse_decimal,
)
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = {"en": "English", "pt-BR": "Português (Brasil)"}
DEFAULT = "en"
COOKIE = "ledger_lang"
UTC = "UTC"
ZONE_COOKIE = "ledger_zone"
COMMON_ZONES = (
    UTC,
    "America/Sao_Paulo",
    "Europe/Lisbon",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
)
"""The zones offered first: the programme's usual places (any IANA zone may be chosen)."""


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


@functools.cache
def translations(language: str) -> NullTranslations:
    """The language's catalog, compiled once per process: for words said outside a template."""
    return compile_catalog(language if language in LANGUAGES else DEFAULT)


AREAS: tuple[str, ...] = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Arctic/",
    "Asia/",
    "Atlantic/",
    "Australia/",
)
AREAS += ("Europe/", "Indian/", "Pacific/")
"""The IANA database's areas; its other names (``Brazil/East``, ``US/Eastern``, ``Etc/``
offsets, its own folders) are older aliases a person need not choose between."""


@functools.cache
def zones() -> tuple[str, ...]:
    """The IANA time zones a person may choose (an area's places), UTC first; not the legacy
    aliases CLDR knows (``Europe/Belfast``, ``Asia/Calcutta``), whose zone is listed already."""
    names = {z for z in available_timezones() if z.startswith(AREAS)}
    aliases = _zone_aliases()
    return (UTC, *sorted(z for z in names if aliases.get(z) not in names))


@functools.cache
def _zone_aliases() -> dict[str, str]:
    """CLDR's legacy zone names, each with the zone it stands for."""
    return dict(get_global("zone_aliases"))


@functools.cache
def zone_label(zone: str, language: str) -> str:
    """The zone as a person of ``language`` knows it: its country and city in their words
    (``Brazil (São Paulo) Time``, ``Horário Brasil (São Paulo)``); UTC is ``UTC``."""
    if zone == UTC:
        return UTC
    try:
        return str(get_timezone_location(zone, locale=Locale.parse(language, sep="-")))
    except (LookupError, ValueError):
        return zone.replace("_", " ")


def zone_place(zone: str, language: str) -> str:
    """Where the zone is, without the words "time zone" (``Brazil (São Paulo)``, ``Brasil (São
    Paulo)``): ``zone_label`` without the locale's region format ("%s Time", "Horário %s"),
    for where the page says "Time zone:" already."""
    label = zone_label(zone, language)
    try:
        region = str(Locale.parse(language, sep="-").zone_formats["region"])
    except (LookupError, ValueError):
        return label
    before, _, after = region.partition("%s")
    if region.count("%s") != 1 or not (label.startswith(before) and label.endswith(after)):
        return label
    return label[len(before) : len(label) - len(after)].strip() or label


def zone_of(chosen: str | None) -> str:
    """The zone a person chose if it is one we know (a legacy alias: the zone it stands for);
    otherwise UTC (a bad cookie included)."""
    chosen = _zone_aliases().get(chosen or "", chosen)
    return chosen if chosen is not None and chosen in zones() else UTC


@functools.cache
def _tz(zone: str) -> tzinfo:
    try:
        return dt.UTC if zone == UTC else ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _offset(delta: timedelta | None) -> str:
    """``UTC+05:30``, ``UTC-03:00``: a zone the locale has no short name for."""
    minutes = round((delta or timedelta()).total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def offset_now(zone: str, now: datetime) -> str:
    """The zone's offset from UTC at ``now`` (``UTC+00:00`` for UTC itself)."""
    return _offset(now.astimezone(_tz(zone)).utcoffset())


def zone_name(zone: str, local: datetime, locale: Locale) -> str:
    """The zone's short name at ``local``: the locale's (``EST``, ``BRT``), else the zone
    database's (``CET``), else its offset (``UTC-03:00``); UTC is ``UTC``."""
    if zone == UTC:
        return UTC
    short = format_datetime(local, "z", tzinfo=_tz(zone), locale=locale)
    for name in (short, local.tzname() or ""):
        if name.isalpha():
            return name
    return _offset(local.utcoffset())


@dataclass(frozen=True)
class Formats:
    """Dates, days and money as a person of ``language`` reads them, times in their ``zone``
    (an IANA name; UTC unless they chose another), the zone named."""

    language: str
    zone: str = UTC

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.language, sep="-")

    @property
    def tz(self) -> tzinfo:
        return _tz(self.zone)

    def long_date(self, moment: datetime | None) -> str:
        """The date spelled out (``April 1, 2026``, ``1 de abril de 2026``) in the person's zone:
        a deadline told."""
        if moment is None:
            return ""
        return format_date(moment.astimezone(self.tz), format="long", locale=self.locale)

    def time(self, moment: datetime | None) -> str:
        """The time of day, to the minute (``8:45 PM UTC``, ``20:45 BRT``), in the person's zone,
        which is named."""
        if moment is None:
            return ""
        local = moment.astimezone(self.tz)
        time = format_time(local, format="short", tzinfo=self.tz, locale=self.locale)
        return f"{time} {zone_name(self.zone, local, self.locale)}"

    def date(self, moment: datetime | None) -> str:
        """The day ``moment`` falls on in the person's zone."""
        if moment is None:
            return ""
        return format_date(moment.astimezone(self.tz), format="medium", locale=self.locale)

    def datetime(self, moment: datetime | None) -> str:
        """``Dec 6, 2026, 2:03 PM UTC``, ``6 de dez. de 2026 11:03 BRT``: to the minute, in the
        person's zone, which is named."""
        if moment is None:
            return ""
        local = moment.astimezone(self.tz)
        day = format_date(local, format="medium", locale=self.locale)
        time = format_time(local, format="short", tzinfo=self.tz, locale=self.locale)
        both = str(self.locale.datetime_formats["medium"]).format(time, day)
        return f"{both} {zone_name(self.zone, local, self.locale)}"

    def usd(self, amount: Decimal | None) -> str:
        return "" if amount is None else format_currency(amount, "USD", locale=self.locale)

    def amount(self, value: Decimal | int) -> str:
        """A number with two decimals as this language writes it: 15,000.50 or 15.000,50."""
        return format_decimal(value, format="#,##0.00", locale=self.locale)

    def month(self, month: str) -> str:
        """A month written ``YYYY-MM``, named as this language names it: March 2026."""
        year, number = month.split("-")
        return format_skeleton("yMMMM", date(int(year), int(number), 1), locale=self.locale)

    def whole(self, value: int) -> str:
        """A count as this language writes it: 1,234 or 1.234."""
        return format_decimal(value, format="#,##0", locale=self.locale)

    def tenths(self, value: float) -> str:
        """A number with one decimal (days): 2.5 or 2,5."""
        return format_decimal(value, format="#,##0.0", locale=self.locale)

    def share(self, value: float) -> str:
        """A share as a percentage: 75% or 75%."""
        return format_percent(value, locale=self.locale)

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
