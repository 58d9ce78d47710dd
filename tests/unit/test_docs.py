"""The project's own documentation covers what the code cites, and stands alone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "rules.md"
RULE_ID = re.compile(r"\bR[0-9]+\b")
# A domain refusal names its slug first: SomeError("slug", ...) or problem(422, "slug", ...).
SLUG = re.compile(
    r"""(?:Error|problem|__init__)\(\s*(?:[0-9]{3},\s*)?["']([a-z]+(?:-[a-z]+)*)["']"""
)
ELIGIBILITY_REASON = re.compile(r"""^[A-Z_]+ = ["']([a-z]+(?:-[a-z]+)+)["']$""", re.MULTILINE)


def sources() -> list[Path]:
    return sorted(p for folder in ("ledger", "api") for p in (ROOT / folder).rglob("*.py"))


def documented_rules() -> set[str]:
    """The rule ids that have a heading (``### R14 ...``) in docs/rules.md."""
    headings = re.findall(r"^#{2,4} (R[0-9]+)\b", RULES.read_text(), re.MULTILINE)
    return set(headings)


def test_every_rule_the_code_cites_has_a_heading_in_the_rules() -> None:
    cited = {rule for path in sources() for rule in RULE_ID.findall(path.read_text())}
    assert cited, "no rule id found in ledger/ and api/"
    assert cited - documented_rules() == set()


def test_every_refusal_the_code_gives_is_in_the_rules() -> None:
    text = RULES.read_text()
    slugs = {
        slug
        for path in sources()
        for pattern in (SLUG, ELIGIBILITY_REASON)
        for slug in pattern.findall(path.read_text())
    }
    assert {"claim-already-exists", "criteria-not-met", "unauthorized"} <= slugs
    missing = sorted(slug for slug in slugs if f"`{slug}`" not in text and f" {slug}`" not in text)
    assert missing == []


def test_the_readme_and_docs_point_nowhere_outside_the_repository() -> None:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        for outside in ("../", "shared/", "SPEC"):
            assert outside not in text, f"{path.name} points outside the repository: {outside}"
