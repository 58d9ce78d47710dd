"""A served process keeps what it built at start-up (the catalog above all) out of the garbage
collector's full passes, which would otherwise walk it in the middle of a request."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.site import app_from_environment, frozen
from testkit.workload import bench_catalog


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """The test process's objects back under the collector afterwards."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_an_api_process_built_from_the_environment_freezes_its_objects(
    unfrozen: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(bench_catalog(2000).model_dump(mode="json")))
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.sqlite3")
    monkeypatch.setenv("LEDGER_CATALOG", str(catalog))
    app = app_from_environment()
    try:
        assert gc.get_freeze_count() > 20_000  # the catalog's 2,000 customers among them
    finally:
        app.state.services.close()


def test_a_full_collection_no_longer_walks_a_large_catalog(unfrozen: None) -> None:
    """What a full collection walks is what ``gc.get_objects`` lists: the catalog's tenants
    leave it (at 100,000 customers, 160-210 ms a pass: bench figures, not asserted here)."""
    catalog = bench_catalog(20_000)
    tenant = catalog.directory.tenants[-1]
    assert id(tenant) in {id(o) for o in gc.get_objects()}
    frozen(catalog)
    assert id(tenant) not in {id(o) for o in gc.get_objects()}
    assert gc.get_freeze_count() > 100_000
