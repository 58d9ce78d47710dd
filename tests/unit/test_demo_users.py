"""The demo's ready-made token commands name real partners and locations, and sign in as said."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from ledger.demo.users import DEMO_USERS, DemoUser, token_command, token_commands
from ledger.domain.access import AccessTokens
from ledger.domain.catalog import load_catalog
from ledger.domain.principal import Role
from ledger.service.settings import Settings


def test_every_partner_and_kind_of_user_has_a_demo_user() -> None:
    catalog = load_catalog()
    admins = {
        u.principal.partner_id for u in DEMO_USERS if Role.INCENTIVES_ADMIN in u.principal.roles
    }
    assert admins == {partner.id for partner in catalog.partners}
    assert {role for u in DEMO_USERS for role in u.principal.roles} == set(Role)
    limited = [u.principal for u in DEMO_USERS if Role.INCENTIVES_USER in u.principal.roles]
    assert [len(p.locations) for p in limited] == [1]


def test_the_demo_users_locations_are_enrolled_locations_of_their_partner() -> None:
    catalog = load_catalog()
    partner_users = [u for u in DEMO_USERS if u.principal.partner_id is not None]
    assert len(partner_users) == 4  # of 7: the reviewer, the auditor and the seller have none
    checked = 0
    for user in partner_users:
        partner = catalog.partner(str(user.principal.partner_id))
        assert partner is not None, user
        for location_id in user.principal.locations:
            location = partner.location(location_id)
            assert location is not None and location.enrolled, (user, location_id)
            checked += 1
    assert checked == 1  # one user is limited to one location; the others have every one


def test_the_listed_commands_are_the_users_commands() -> None:
    lines = token_commands(load_catalog())
    assert [command for _, command in lines] == [token_command(u.principal) for u in DEMO_USERS]
    assert lines[0][0] == "Contoso Consulting: incentives admin, every location"
    assert "Alpine Cloud Partners: incentives user, only location LOC-2001" in dict(lines)


@pytest.mark.parametrize("user", DEMO_USERS, ids=lambda u: u.principal.user_id)
def test_each_command_prints_a_token_for_its_user(
    user: DemoUser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    words = shlex.split(token_command(user.principal))
    assert words[:2] == ["ledger", "token"]
    result = CliRunner().invoke(app, words[1:])
    assert result.exit_code == 0, result.output
    principal = AccessTokens(Settings().signing_key()).principal(result.stdout.strip())
    assert principal == user.principal
