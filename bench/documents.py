"""Proof document uploads: throughput of 20 MB files through the app against a plain file
copy in the same run, and the server's peak memory for one upload.

Run: ``.venv/bin/python -m bench.documents [--files 8] [--megabytes 20]``. It prepares a
claim that takes uploads on a fresh SQLite store, starts ``ledger serve --no-workers`` on it,
and then:

- copy: ``shutil.copyfile`` of each file into another folder (the disk's own rate);
- upload: ``POST /v1/claims/{id}/documents`` of each file over HTTP (httpx streams it from
  disk), the server parsing the multipart body, hashing, recognising and storing it by its
  SHA-256, and recording the claim's event;
- memory: the server's peak resident memory (``VmHWM``, reset through ``clear_refs`` first)
  during one more upload, less its resident memory before it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import httpx

from ledger.domain.access import AccessTokens
from ledger.domain.commands import CreateClaims, RequestConsent
from ledger.service.application import open_ledger
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from testkit.pgcluster import free_port
from testkit.serving import wait_healthy
from testkit.workload import PARTNER, bench_catalog, claim_body

KEY = "documents-bench-signing-key-long-enough-for-hs256"
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def consented_claim(settings: Settings, catalog_file: Path) -> UUID:
    """A claim whose customer consented: it takes uploads."""
    catalog = bench_catalog(1)
    catalog_file.write_text(json.dumps(catalog.model_dump(mode="json")))
    ledger = open_ledger(settings, catalog)
    try:
        now = utc_now()
        (claim_id,) = ledger.create_claims(PARTNER, CreateClaims.model_validate(claim_body(0)), now)
        request = RequestConsent(deal_size_usd=Decimal("1000.00"), disclaimer_accepted=True)
        link = ledger.request_consent(PARTNER, claim_id, request, now)
        ledger.answer_consent(claim_id, link, True, now)
        return claim_id
    finally:
        ledger.close()


def make_files(folder: Path, count: int, size: int) -> list[Path]:
    files = []
    for i in range(count):
        path = folder / f"proof-{i}.pdf"
        with path.open("wb") as out:
            out.write(PDF_HEAD)
            out.write(os.urandom(size - len(PDF_HEAD)))
        files.append(path)
    return files


def serve(folder: Path, settings: Settings, catalog: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_SECRET_KEY": KEY,
        "LEDGER_CATALOG": str(catalog),
        "LEDGER_DOCUMENTS_DIR": str(folder / "documents"),
        "LEDGER_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "cli", "serve", "--no-workers", "--port", str(port)]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def upload(client: httpx.Client, claim_id: UUID, path: Path) -> None:
    with path.open("rb") as source:
        files = {"file": (path.name, source, "application/pdf")}
        response = client.post(
            f"/v1/claims/{claim_id}/documents", files=files, data={"kind": "invoice"}
        )
    assert response.status_code == 201, response.text


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def rate(files: list[Path], seconds: float) -> float:
    return sum(p.stat().st_size for p in files) / seconds / 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--megabytes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        run(Path(name), args.files, args.megabytes * 1_000_000)


def run(folder: Path, count: int, size: int) -> None:
    settings = Settings(database_url=f"sqlite:///{folder / 'ledger.sqlite3'}", secret_key=KEY)
    claim_id = consented_claim(settings, folder / "catalog.json")
    files = make_files(folder, count + 1, size)
    copies = folder / "copies"
    copies.mkdir()
    started = time.perf_counter()
    for path in files[:count]:
        shutil.copyfile(path, copies / path.name)
    copied = time.perf_counter() - started
    port = free_port()
    server = serve(folder, settings, folder / "catalog.json", port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, server)
        token = AccessTokens(KEY).mint(PARTNER, timedelta(hours=1), utc_now())
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            started = time.perf_counter()
            for path in files[:count]:
                upload(client, claim_id, path)
            uploaded = time.perf_counter() - started
            before = memory_kib(server.pid, "VmRSS")
            Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # resets VmHWM
            upload(client, claim_id, files[count])
            peak = memory_kib(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(files[:count], copied, uploaded, size, peak - before)


def report(files: list[Path], copied: float, uploaded: float, size: int, delta: int) -> None:
    mb = size / 1_000_000
    print(f"{len(files)} files of {mb:g} MB each")
    print(f"plain file copy: {rate(files, copied):,.0f} MB/s")
    print(f"upload through the app: {rate(files, uploaded):,.0f} MB/s")
    print(f"ratio (app / copy): {uploaded and copied / uploaded:.2f}")
    print(f"peak server memory of one {mb:g} MB upload: +{delta / 1024:,.1f} MiB resident")


if __name__ == "__main__":
    main()
