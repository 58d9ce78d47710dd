"""`ledger forget`: a contact's personal data erased (its key deleted)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from cli.common import (
    OPERATOR,
    _ledger,
    _views,
    console,
    errors,
    settings_or_exit,
)
from ledger.domain.errors import NotFoundError
from ledger.runtime.erasure import forget as erasure_forget
from ledger.service.clock import utc_now


def forget(
    email: Annotated[str, typer.Option("--email", help="The contact's e-mail address (any case).")],
) -> None:
    r"""Erase a contact's personal data: its name and e-mail address read \[erased] everywhere
    from now on (history, views, exports, replays), its consent e-mail files are removed, and
    the erasure is recorded (by whom, when; not what). The events stay as they are."""
    # The docstring is --help's text, read as rich markup: \[ keeps the brackets of [erased].
    if "@" not in email or not email.isprintable():
        raise typer.BadParameter(f"{email!r} is not an e-mail address", param_hint="--email")
    settings = settings_or_exit()
    ledger = _ledger()
    views = _views(ledger)
    try:
        erasure = erasure_forget(
            ledger, views, settings.mail_directory(), OPERATOR, email, utc_now()
        )
    except NotFoundError as error:
        errors.print(f"[red]{escape(error.detail)}[/red]")
        raise typer.Exit(1) from None
    finally:
        views.store.close()
    console.print(
        f"erased the contact of key {erasure.key_id} at {erasure.erased_at.isoformat()}: "
        f"{len(erasure.claims)} claim(s) held it; {erasure.mail_files_removed} e-mail file(s) "
        "removed"
    )
