"""A crawl of every page a partner, a referral admin, a reviewer, an auditor, a seller and a
customer reach, in both languages, at 320 px: no page shows developer text (a slug, an internal
name, a library's phrase, a raw timestamp), no Portuguese page shows an English word of the
page's own catalog, and no table cell lies outside the screen. Each page is kept as a
screenshot (``crawl-<role>-<language>-<n>.png``, at 320 px)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import Browser, BrowserContext, Page

from ledger.domain.principal import Principal, Role
from ledger.words.i18n import COOKIE, LOCALES_DIR
from ledger.words.i18n import LANGUAGES as LANGUAGE_NAMES
from testkit.serving import until
from tests.conftest import text_of
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    AUDITOR,
    CATALOG_DATA,
    FABRIKAM,
    LITWARE,
    NORTHWIND,
    REVIEWER,
    SELLER,
    create,
)
from tests.web.browser import NARROW, SCREENSHOTS, LedgerWeb, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
REFERRALS_A = Principal("ria@a.example", "P-A", frozenset({Role.REFERRAL_ADMIN}))
LANGUAGES = ("en", "pt-BR")
PAGES_PER_ROLE = 40
VISITS_PER_SHAPE = 2
SKIPPED: tuple[str, ...] = (
    "/sign-out",
    "/sign-in",
    "/language",
    "/static",
    "/docs",
    "/redoc",
    "/openapi",
)
SKIPPED += ("/v1/", "/metrics", "/healthz", "/readyz", "/claims.csv")
DOWNLOADS = (".csv", ".jsonl")
"""Files to download (a claim's history as JSON Lines), not pages."""
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
PYTHON_NONE = re.compile(r"\bNone\b(?! of)")  # a None rendered as text
ISO_TIME = re.compile(r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
LIBRARY_PHRASES = (
    "should have",
    "Input should",
    "valid decimal",
    "value is not",
    "at least 1 item",
    "Traceback",
    "Error)",
    "(user)",
    "Field required",
    "validation error",
    "String should",
)
HEX = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b")
"""A hexadecimal id or digest (a claim id's first 8 digits, a key id, a log digest)."""
BASE64 = re.compile(r"(?<![\w+/])(?=[\w+/-]*[\d+/_-])[\w+/-]{16,}={0,2}")
"""Keys, signatures and digests in base64 (a checkpoint's signature, a key's name): random
letters, which may spell an English word ("...+STAY/...")."""
WORD = re.compile(r"[A-Za-zÀ-ÿ]+(?:'[a-z]+)?")


# -- what a page may not say -------------------------------------------------------------------


def _slugs() -> set[str]:
    """Every refusal slug the ledger raises (the first string of an ``...Error(`` call) and
    every reason slug of the eligibility check: the API's words, never a page's."""
    found: set[str] = set()
    pattern = re.compile(r"Error\(\s*\"([a-z]+(?:-[a-z]+)+)\"")
    for source in (ROOT / "ledger").rglob("*.py"):
        found.update(pattern.findall(source.read_text()))
    found.update(re.findall(r"\"([a-z]+(?:-[a-z]+)+)\"", (ROOT / "web/labels.py").read_text()))
    return found


def _english_only_words() -> set[str]:
    """Words of the page's English source text that no Portuguese translation uses: seen on a
    Portuguese page, they are text nobody translated."""
    with (LOCALES_DIR / "pt_BR" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source)
    english: set[str] = set()
    portuguese: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string or "",)
        for text in ids:
            assert isinstance(text, str)
            english.update(w.lower() for w in WORD.findall(re.sub(r"%\(\w+\)\w", " ", text)))
        for text in strings:
            assert isinstance(text, str)
            portuguese.update(w.lower() for w in WORD.findall(text))
    return {w for w in english - portuguese if len(w) > 2}


def _data_strings() -> list[str]:
    """Names the data holds (engagements, partners, tenants, people): shown as they are in
    every language, so removed before the words of a page are checked."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and not value.isdigit():
            found.append(value)

    walk(CATALOG_DATA)
    found += ["Cora Customer", "Pat Partner", "Fabrikam", "Northwind", "Litware", "Crawl pilot"]
    found += ["The invoice is missing", *LANGUAGE_NAMES.values()]
    return sorted(set(found), key=len, reverse=True)


@dataclass
class Findings:
    """What the crawl found wrong, page by page."""

    slugs: set[str] = field(default_factory=_slugs)
    english: set[str] = field(default_factory=_english_only_words)
    data: list[str] = field(default_factory=_data_strings)
    problems: list[str] = field(default_factory=list)

    def check_words(self, where: str, language: str, text: str) -> None:
        for phrase in LIBRARY_PHRASES:
            if phrase in text:
                self.problems.append(f"{where}: library or developer text {phrase!r}")
        for pattern, what in (
            (SNAKE_CASE, "an internal name"),
            (ISO_TIME, "a raw timestamp"),
            (PYTHON_NONE, "a Python None"),
        ):
            for match in set(pattern.findall(text)):
                self.problems.append(f"{where}: {what} {match!r}")
        for slug in self.slugs:
            if re.search(rf"(?<![\w/-]){re.escape(slug)}(?![\w-])", text):
                self.problems.append(f"{where}: the slug {slug!r}")
        if language == "pt-BR":
            self._check_portuguese(where, text)

    def _check_portuguese(self, where: str, text: str) -> None:
        for known in self.data:
            text = text.replace(known, " ")
        text = re.sub(r"\S+@\S+", " ", text)  # e-mail addresses
        text = HEX.sub(" ", UUID.sub(" ", text))  # ids and digests ("add8", "bad0" in them)
        text = BASE64.sub(" ", text)
        english = sorted({w for w in WORD.findall(text) if w.lower() in self.english})
        if english:
            self.problems.append(f"{where}: English on the Portuguese page: {english}")

    def check_tables(self, where: str, page: Page) -> None:
        """At 320 px every cell of every table is on the screen (none cut or scrolled off)."""
        width = NARROW["width"]
        for cell in page.locator("table th:visible, table td:visible").all():
            box = cell.bounding_box()
            if box is None or box["width"] == 0:
                continue
            if box["x"] < -1 or box["x"] + box["width"] > width + 1:
                text = cell.inner_text().strip()[:40]
                self.problems.append(
                    f"{where}: the cell {text!r} lies outside the 320 px screen "
                    f"(from {box['x']:.0f} to {box['x'] + box['width']:.0f} px)"
                )


# -- walking the pages -------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def links_of(html: str, base: str) -> Iterator[str]:
    """The page's links to other pages of the site (its own path and query, nothing else)."""
    parser = _Links()
    parser.feed(html)
    for href in parser.hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            if not href.startswith(base):
                continue
            parts = urlsplit(href[len(base) :])
        if parts.path.startswith(SKIPPED) or parts.path == "/sign-in":
            continue
        if parts.path.endswith(DOWNLOADS):
            continue
        yield parts.path + (f"?{parts.query}" if parts.query else "")


def shape_of(path: str) -> str:
    """Pages of one kind (one claim page and another, page 1 and page 2 of a list)."""
    path, _, query = path.partition("?")
    keys = sorted(part.partition("=")[0] for part in query.split("&") if part)
    return UUID.sub("{id}", path) + "?" + "&".join(keys)


def crawl(page: Page, base: str, starts: list[str]) -> Iterator[tuple[str, int]]:
    """Visit the pages reachable from ``starts`` by links, a few of each shape; yields each
    page's path and status once ``page`` shows it."""
    queue, seen, shapes = list(starts), set(starts), dict[str, int]()
    while queue:
        path = queue.pop(0)
        shape = shape_of(path)
        if shapes.get(shape, 0) >= VISITS_PER_SHAPE:
            continue
        shapes[shape] = shapes.get(shape, 0) + 1
        response = page.goto(base + path)
        yield path, response.status if response else 0
        if sum(shapes.values()) >= PAGES_PER_ROLE:
            return
        for link in links_of(page.content(), base):
            if link not in seen:
                seen.add(link)
                queue.append(link)


# -- the people and their data -----------------------------------------------------------------


@dataclass
class Walk:
    """The pages each person starts from, and the consent links a customer holds."""

    starts: dict[str, tuple[Principal | None, list[str]]]


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _consent_link(server: LedgerWeb, email: str, after: int = 0) -> str:
    def found() -> str | None:
        messages = [m for m in server.inbox.messages if m["To"] == email][after:]
        match = re.search(r"/consent/(\S+)", text_of(messages[0])) if messages else None
        return match.group(1) if match else None

    return str(until(found))


@pytest.fixture(scope="module")
def walk(own_web: LedgerWeb) -> Walk:
    """Claims of Partner A in many states (added, awaiting consent with a referral, consented,
    submitted with information requested, approved), a superseded and an answered consent link,
    and the pages each person starts from."""
    partner, reviewer = own_web.api(ADMIN_A), own_web.api(REVIEWER)

    def new(name: str, tenant: str, email: str, engagement: str = "E-WS") -> str:
        body = create([engagement], name=name, value=tenant, customer_email=email)
        made = _ok(partner.post("/v1/claims", json=body.model_dump(mode="json")), 201)
        return str(made["claims"][0]["claim_id"])

    def consent(claim: str, email: str, deal: str = "20000.00", again: bool = False) -> str:
        before = len([m for m in own_web.inbox.messages if m["To"] == email])
        if again:
            _ok(partner.post(f"/v1/claims/{claim}/consent-reminder"))
        else:
            body = {"deal_size_usd": deal, "disclaimer_accepted": True}
            _ok(partner.post(f"/v1/claims/{claim}/consent-request", json=body))
        return _consent_link(own_web, email, before)

    added = new("Crawl pilot", NORTHWIND, "crawl@northwind.com", "E-AS")
    waiting = new("Fabrikam", FABRIKAM, "crawl@fabrikam.com")
    superseded = consent(waiting, "crawl@fabrikam.com")
    open_link = consent(waiting, "crawl@fabrikam.com", again=True)
    done = new("Litware", LITWARE, "crawl@litware.com", "E-AS")
    answered = consent(done, "crawl@litware.com", "15000.50")
    _ok(own_web.api().post(f"/v1/consent/{answered}", json={"decision": "accept"}))
    proof = {"proof": [{"kind": "poe_document", "reference": "poe.pdf"}]}
    _ok(partner.post(f"/v1/claims/{done}/submission", json=proof))
    _ok(reviewer.post(f"/v1/claims/{done}/review", json={"action": "start"}))
    ask = {"action": "request_information", "reason": "The invoice is missing"}
    _ok(reviewer.post(f"/v1/claims/{done}/review", json=ask))
    consents = [f"/consent/{t}" for t in (open_link, superseded, answered, "not-a-link")]
    return Walk(
        {
            "partner": (
                ADMIN_A,
                ["/", f"/claims/{added}", f"/claims/{waiting}", f"/claims/{done}"],
            ),
            "partner-elsewhere": (ADMIN_A, [f"/claims/{UUID_ZERO}", "/review", "/co-sell"]),
            "referral-admin": (REFERRALS_A, ["/", "/referrals"]),
            "reviewer": (REVIEWER, ["/", "/review", f"/review/{done}", f"/claims/{done}"]),
            "auditor": (AUDITOR, ["/", "/claims"]),
            "seller": (SELLER, ["/", "/co-sell"]),
            "customer": (None, consents),
            "partner-b": (ADMIN_B, ["/", f"/claims/{done}"]),
        }
    )


UUID_ZERO = "00000000-0000-0000-0000-000000000000"


def _context(browser: Browser, server: LedgerWeb, language: str) -> BrowserContext:
    context = browser.new_context(java_script_enabled=False, viewport=NARROW)
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": COOKIE, "value": language, "url": server.url}])
    return context


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_page_shows_developer_text_or_hides_a_column(
    browser: Browser, own_web: LedgerWeb, walk: Walk, language: str
) -> None:
    findings = Findings()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    visited = 0
    for role, (principal, starts) in walk.starts.items():
        context = _context(browser, own_web, language)
        try:
            page = context.new_page()
            if principal is not None:
                sign_in_as(page, own_web, principal)
            for number, (path, status) in enumerate(crawl(page, own_web.url, starts)):
                where = f"[{language} {role}] {path[:70]} ({status})"
                assert status < 500, where
                assert page.locator("html").get_attribute("lang") == language, where
                findings.check_words(where, language, words_of(page))
                findings.check_tables(where, page)
                page.screenshot(
                    path=str(SCREENSHOTS / f"crawl-{role}-{language}-{number:02d}.png"),
                    full_page=True,
                )
                visited += 1
        finally:
            context.close()
    assert visited >= 20, f"the crawl reached only {visited} pages"
    assert not findings.problems, "\n".join(sorted(set(findings.problems)))


def words_of(page: Page) -> str:
    """What the page says in words: its text, less commands shown as code (a command line
    is typed as it is, in every language), text marked as another language (``lang``: the
    link that offers the page in English), and the places of the time zone list (a city
    keeps its name: New York, New Salem)."""
    text = page.locator("body").inner_text()
    own = page.locator("html").get_attribute("lang")
    elsewhere = page.locator(f"body [lang]:not([lang='{own}'])").all_inner_texts()
    places = page.locator("select#zone option").all_inner_texts()
    literals = (*page.locator("code").all_inner_texts(), *elsewhere, *places)
    for literal in sorted(literals, key=len, reverse=True):  # "Read ... in English" first
        text = text.replace(literal, " ")
    return text


def sign_in_as(page: Page, server: LedgerWeb, principal: Principal) -> None:
    """Sign in through the form (in English: the sign-in form's labels are looked up by
    their English names), then the page goes on in the context's language."""
    language = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
    page.context.add_cookies([{"name": COOKIE, "value": "en", "url": server.url}])
    sign_in(page, server, principal)
    page.context.add_cookies([{"name": COOKIE, "value": language, "url": server.url}])
