"""`ledger token`: a signed bearer token."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.markup import escape

from cli.common import (
    errors,
    settings_or_exit,
)
from ledger.domain.access import AccessTokens
from ledger.domain.principal import PARTNER_ROLES, Principal, Role
from ledger.service.clock import utc_now
from ledger.service.settings import SettingsError


def token(
    user: Annotated[str, typer.Option(help="The user id the token names.")],
    role: Annotated[list[Role], typer.Option(help="A role; repeat for several.")],
    partner: Annotated[str | None, typer.Option(help="The partner, for partner roles.")] = None,
    location: Annotated[
        list[str] | None, typer.Option(help="A location of an incentives_user; repeat.")
    ] = None,
    ttl: Annotated[int, typer.Option(min=1, help="Seconds until it expires.")] = 8 * 3600,
) -> None:
    """Print a signed bearer token (for development, tests and operators)."""
    principal = Principal(user, partner, frozenset(role), frozenset(location or []))
    if principal.roles & PARTNER_ROLES and partner is None:
        raise typer.BadParameter("partner roles need --partner", param_hint="--partner")
    try:
        key = settings_or_exit().signing_key()
    except SettingsError as error:
        errors.print(f"[red]settings error[/red]: {escape(str(error))}")
        raise typer.Exit(2) from None
    sys.stdout.write(AccessTokens(key).mint(principal, timedelta(seconds=ttl), utc_now()) + "\n")
