"""Settings for logs, the links in e-mails, the mail folder, the mail retry and the views' page
(SPEC 6.1, section 10)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ledger.projections.claim_queries import STUCK_AFTER
from ledger.service.settings import Settings


@pytest.fixture(autouse=True)
def _no_ledger_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "LEDGER_PUBLIC_URL",
        "LEDGER_MAIL_DIR",
        "LEDGER_LOG_LEVEL",
        "LEDGER_LOG_FORMAT",
        "LEDGER_MAIL_RETRY_SECONDS",
        "LEDGER_VIEW_PAGE_SIZE",
    ):
        monkeypatch.delenv(name, raising=False)


def test_links_follow_where_serve_listens_unless_the_public_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unset = Settings()
    assert unset.public_url == "http://127.0.0.1:8000"  # `ledger workers` alone
    assert unset.serving("127.0.0.1", 8100).public_url == "http://127.0.0.1:8100"
    assert unset.serving("0.0.0.0", 9000).public_url == "http://127.0.0.1:9000"
    assert unset.serving("::", 9000).public_url == "http://[::1]:9000"
    assert unset.serving("claims.local", 80).public_url == "http://claims.local:80"
    given = Settings(public_url="https://claims.example")
    assert given.serving("0.0.0.0", 8100).public_url == "https://claims.example"
    monkeypatch.setenv("LEDGER_PUBLIC_URL", "https://env.example")
    assert Settings().serving("127.0.0.1", 8100).public_url == "https://env.example"


def test_the_mail_folder_is_beside_the_sqlite_database_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    beside = Settings(database_url=f"sqlite:///{tmp_path / 'data' / 'ledger.sqlite3'}")
    assert beside.mail_directory() == tmp_path / "data" / "mail"
    assert Settings(database_url="sqlite:///./ledger.sqlite3").mail_directory() == Path("mail")
    postgres = Settings(database_url="postgresql://u:p@db.example:5432/ledger")
    assert postgres.mail_directory() == Path("mail")
    monkeypatch.setenv("LEDGER_MAIL_DIR", str(tmp_path / "outgoing"))
    assert Settings().mail_directory() == tmp_path / "outgoing"


def test_log_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().log_level, Settings().log_format) == ("INFO", "text")
    monkeypatch.setenv("LEDGER_LOG_LEVEL", "debug")
    monkeypatch.setenv("LEDGER_LOG_FORMAT", "json")
    assert (Settings().log_level, Settings().log_format) == ("DEBUG", "json")
    for name, value in (("LEDGER_LOG_LEVEL", "loud"), ("LEDGER_LOG_FORMAT", "xml")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError):
            Settings()
        monkeypatch.delenv(name)


def test_the_mail_retry_and_the_view_page_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stuck e-mail is sent again after five minutes by default; the views apply 2,000
    events a page; both from the environment, and nonsense is refused at start-up."""
    assert (Settings().mail_retry_seconds, Settings().view_page_size) == (300.0, 2000)
    assert STUCK_AFTER.total_seconds() == Settings().mail_retry_seconds  # the queries' default
    monkeypatch.setenv("LEDGER_MAIL_RETRY_SECONDS", "2")
    monkeypatch.setenv("LEDGER_VIEW_PAGE_SIZE", "7")
    assert (Settings().mail_retry_seconds, Settings().view_page_size) == (2.0, 7)
    for name, value in (("LEDGER_MAIL_RETRY_SECONDS", "0"), ("LEDGER_VIEW_PAGE_SIZE", "0")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError, match=name.removeprefix("LEDGER_").lower()):
            Settings()
        monkeypatch.delenv(name)
