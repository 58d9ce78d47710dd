"""The catalog: file format, defaults by kind, start-up errors that name file, path and why."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from ledger.domain.catalog import (
    DEFAULT_DEADLINES,
    Catalog,
    CatalogError,
    EngagementKind,
    PayoutModel,
    load_catalog,
)
from ledger.domain.customer_ids import IdType
from tests.factories import CATALOG_DATA


def write(tmp_path: Path, data: Any, name: str = "catalog.json") -> Path:
    path = tmp_path / name
    text = json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data)
    path.write_text(text)
    return path


def test_json_and_yaml_load_the_same_catalog(tmp_path: Path) -> None:
    from_json = load_catalog(write(tmp_path, CATALOG_DATA))
    from_yaml = load_catalog(write(tmp_path, CATALOG_DATA, "catalog.yaml"))
    assert from_json == from_yaml
    assert from_json.engagement("E-WS") is not None


def test_deadlines_default_by_kind(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, CATALOG_DATA))
    workshop = catalog.engagement("E-WS")
    assert workshop is not None
    assert workshop.deadlines == DEFAULT_DEADLINES[EngagementKind.WORKSHOP]
    assert (workshop.deadlines.first_submission_days, workshop.deadlines.dispute_days) == (90, 30)
    project_l = DEFAULT_DEADLINES[EngagementKind.PROJECT_L]
    assert (project_l.first_submission_days, project_l.review_completion_days) == (260, 290)


def test_explicit_deadlines_win(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, CATALOG_DATA))
    assessment = catalog.engagement("E-AS")
    assert assessment is not None and assessment.deadlines.consent_days == 10


def broken(path_to_field: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(CATALOG_DATA)
    target = data
    for key in path_to_field[:-1]:
        target = target[key]
    target[path_to_field[-1]] = value
    return data


@pytest.mark.parametrize(
    ("field", "value", "where", "why"),
    [
        (["engagements", 0, "kind"], "seminar", "engagements[0].kind", "Input should be"),
        (
            ["engagements", 2, "allowed_id_types"],
            ["tenant_id"],
            "engagements[2]",
            "allows only msx_opportunity_id",
        ),
        (
            ["engagements", 0, "eligible_locations"],
            ["LOC-NOWHERE"],
            "(top level)",
            "unknown locations",
        ),
        (
            ["engagements", 0, "eligible_customers"],
            {"tenant_id": ["not-a-guid"]},
            "engagements[0].eligible_customers",
            "must be a GUID",
        ),
        (["partners", 0, "locations", 0, "country"], "usa", "partners[0].locations[0].country", ""),
        (["engagements", 0, "customer_claim_limit"], 0, "engagements[0].customer_claim_limit", ""),
    ],
)
def test_a_bad_catalog_names_file_field_path_and_reason(
    tmp_path: Path, field: list[Any], value: Any, where: str, why: str
) -> None:
    path = write(tmp_path, broken(field, value))
    with pytest.raises(CatalogError) as refused:
        load_catalog(path)
    assert refused.value.path == str(path)
    assert refused.value.where.startswith(where)
    assert why in refused.value.reason
    assert str(path) in str(refused.value)


def test_unreadable_or_unparsable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"missing\.json"):
        load_catalog(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_catalog(bad)


def test_the_demo_catalog_is_realistic() -> None:
    catalog = load_catalog()
    engagements = catalog.engagements
    assert len(engagements) >= 6
    assert len({e.solution_area for e in engagements}) >= 3
    kinds = {e.kind for e in engagements}
    assert {EngagementKind.WORKSHOP, EngagementKind.ASSESSMENT} <= kinds
    assert len(kinds & {k for k in EngagementKind if k.value.startswith("project")}) >= 2
    assert any(e.payout_model is PayoutModel.VARIABLE for e in engagements)
    assert any(set(e.allowed_id_types) == {IdType.TENANT_ID, IdType.TPID} for e in engagements)
    assert any(not e.referrals_enabled for e in engagements)
    assert len(catalog.partners) >= 2
    for partner in catalog.partners:
        assert {loc.enrolled for loc in partner.locations} == {True, False}
    tenants = catalog.directory.tenants
    assert len(tenants) >= 20
    assert {t.managed for t in tenants} == {True, False}
    assert len({d.split(".")[-1] for t in tenants for d in t.domains}) >= 2
    assert all(t.tpid for t in tenants)
    assert any(t.azure_subscription_ids for t in tenants)
    variable = next(e.variable for e in engagements if e.variable)
    bands = {variable.rate_for(o.amount_usd) for o in catalog.directory.opportunities} - {None}
    assert len(bands) >= 3
    assert all(isinstance(b, Decimal) for b in bands)


def _workshop_changed(change: dict[str, Any], directory: dict[str, Any] | None = None) -> Any:
    data = copy.deepcopy(CATALOG_DATA)
    (workshop,) = [e for e in data["engagements"] if e["id"] == "E-WS"]
    workshop.update(change)
    if directory is not None:
        data["directory"] = directory
    return Catalog.model_validate(data)


@pytest.mark.parametrize(
    "change",
    [
        {"customer_claim_limit": 3},
        {"allowed_id_types": ["tenant_id"], "eligible_customers": {}},
        {"eligible_customers": {"tpid": ["333"]}},
    ],
)
def test_the_tabs_digest_changes_with_what_sorts_the_customers_tabs(change: Any) -> None:
    """An engagement's id types, list or limit sort its known customers onto other tabs:
    its digest changes, the other engagements' stay."""
    before, after = Catalog.model_validate(CATALOG_DATA), _workshop_changed(change)
    assert before.tabs_digest("E-WS") != after.tabs_digest("E-WS")
    assert before.tabs_digest("E-AS") == after.tabs_digest("E-AS")


def test_the_tabs_digest_changes_with_the_directory_and_not_with_names() -> None:
    before = Catalog.model_validate(CATALOG_DATA)
    renamed = _workshop_changed({"name": "Renamed", "fixed_payout_usd": "1.00"})
    assert renamed.tabs_digest("E-WS") == before.tabs_digest("E-WS")  # no tab moves
    moved = _workshop_changed({}, {"tenants": CATALOG_DATA["directory"]["tenants"][:1]})
    assert all(
        moved.tabs_digest(e.id) != before.tabs_digest(e.id) for e in before.engagements
    )  # a domain may resolve to another tenant, or to none
