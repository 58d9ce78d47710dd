"""The demo's users, one of each kind, and the `ledger token` command line that signs in as each."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ledger.demo.scenario import ALICE, BRUNO, RITA
from ledger.domain.catalog import Catalog
from ledger.domain.principal import Principal, Role


@dataclass(frozen=True)
class DemoUser:
    """A user to try the demo as: what the user may do, and who it is."""

    kind: str
    principal: Principal


DEMO_USERS = (
    DemoUser("incentives admin, every location", ALICE),
    DemoUser(
        "incentives admin, every location",
        Principal("anna@alpine.example", "P-ALPINE", frozenset({Role.INCENTIVES_ADMIN})),
    ),
    DemoUser("incentives user", BRUNO),
    DemoUser(
        "referral admin (opens the partner's referrals)",
        Principal("rafael@contoso.example", "P-CONTOSO", frozenset({Role.REFERRAL_ADMIN})),
    ),
    DemoUser("reviewer (the review queue, start, approve, reject)", RITA),
    DemoUser(
        "seller (the co-sell referrals)",
        Principal("sam@programme.example", None, frozenset({Role.SELLER})),
    ),
    DemoUser(
        "auditor (any claim's history)",
        Principal("ava@programme.example", None, frozenset({Role.AUDITOR})),
    ),
)


def token_command(principal: Principal) -> str:
    """The `ledger token ...` command line that prints a bearer token for ``principal``."""
    words = ["ledger", "token", "--user", principal.user_id]
    if principal.partner_id is not None:
        words += ["--partner", principal.partner_id]
    for role in sorted(principal.roles):
        words += ["--role", role.value]
    for location in sorted(principal.locations):
        words += ["--location", location]
    return shlex.join(words)


def token_commands(catalog: Catalog) -> list[tuple[str, str]]:
    """(who, command line) for each demo user, the partner named as the catalog names it."""
    lines = []
    for user in DEMO_USERS:
        partner_id = user.principal.partner_id
        partner = None if partner_id is None else catalog.partner(partner_id)
        owner = "Programme" if partner_id is None else partner.name if partner else partner_id
        only = ", ".join(sorted(user.principal.locations))
        kind = f"{user.kind}, only location {only}" if only else user.kind
        lines.append((f"{owner}: {kind}", token_command(user.principal)))
    return lines
