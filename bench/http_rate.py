"""HTTP throughput of POST /v1/claims and a Customers-page GET, against the in-process rate.

Run: ``.venv/bin/python -m bench.http_rate [--seconds 10] [--store sqlite|postgresql]
[--processes N]``. Needs ``wrk`` (Debian package ``wrk``). It starts ``ledger serve`` on a
fresh store with a catalog of many eligible customers, drives it with wrk (2 threads, 8
connections), then measures ``Ledger.create_claims`` called in-process on another fresh store
in the same run.

With ``--claims N`` instead (e.g. ``--claims 100000 --seconds 60 --store sqlite``, or ``--store
postgresql``: a durable throwaway cluster): it fills the store with N approved claims of one
partner (``bench.replay_rate.populate``) and brings the views up to date, vacuums and analyses
it on PostgreSQL (as autovacuum does soon after a fill), serves it with ``ledger serve
--no-workers`` (their first rounds on a store just filled would share the cores with the GETs),
then prints the p50/p99 of each GET from ONE keep-alive connection (``wrk -t1 -c1 --latency``,
one GET after the other, each asked once first and checked for a 200): ``/healthz`` (the
floor), the Customers tabs (E-BENCH's Completed, Eligible and Ineligible tabs, where every
known customer has reached the claim limit: the Eligible tab's worst case; and E-BENCH-OPEN's
Eligible tab, where every known customer is claimable), a claim's details, the partner's
``/dashboard`` page and ``GET /v1/reports/summary``, and a reviewer's ``/programme`` page. The
pages are read with a session cookie (a session started in the store as ``POST /sign-in``
does), the API with a bearer token. One line per GET ends with ``ratio_p50`` and ``ratio_p99``:
its p50 and p99 over ``/healthz``'s, same run; a line ``tabs`` gives each known customers'
tab's p99 over the Completed tab's (goal: at most 2). A GET slower than ``--seconds`` still
gets one sample (its p50 and p99 are then that one request's time).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import httpx
import psycopg

from bench.replay_rate import populate
from ledger.domain.access import AccessTokens
from ledger.domain.commands import CreateClaims
from ledger.domain.principal import Principal, Role
from ledger.projections.runner import ViewRunner
from ledger.projections.store import ViewStore
from ledger.runtime.sessions import SignIns
from ledger.service.application import open_ledger
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from testkit.pgcluster import create_database, free_port, throwaway_cluster
from testkit.serving import wait_healthy
from testkit.views import T0
from testkit.workload import PARTNER, bench_catalog, claim_body, tenant
from web.session import COOKIE

KEY = "http-bench-signing-key-long-enough-for-hs256"
SERVE = [sys.executable, "-m", "cli", "serve"]
CUSTOMERS = 200_000
REVIEWER = Principal("rita@reviews.example", None, frozenset({Role.REVIEWER}))
Timing = tuple[float, float, int]
"""p50 and p99 in ms, and the number of samples."""


def tenants_file(folder: Path) -> Path:
    """The tenant id of customer n, one a line (wrk's Lua reads them by index)."""
    path = folder / "tenants.txt"
    path.write_text("\n".join(tenant(i) for i in range(CUSTOMERS)))
    return path


def wrk(url: str, token: str, seconds: int, script: Path | None) -> float:
    args = ["wrk", "-t2", "-c8", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}"]
    args += ["-H", "Content-Type: application/json"]
    if script is not None:
        args += ["-s", str(script)]
    output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        print(f"  ({non_2xx.group(1)} responses were not 2xx)")
    assert match, output
    return float(match.group(1))


def serve(
    stack: ExitStack, database_url: str, catalog: Path, processes: int, no_workers: bool = False
) -> str:
    """``ledger serve`` on the store, healthy, stopped with ``stack``; its URL."""
    port = free_port()
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": database_url,
        "LEDGER_CATALOG": str(catalog),
        "LEDGER_SECRET_KEY": KEY,
    }
    service = subprocess.Popen(
        [*SERVE, "--port", str(port), "--processes", str(processes)]
        + (["--no-workers"] if no_workers else []),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(service.terminate)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, service, seconds=120)
    return url


def latency(url: str, header: str, seconds: int) -> Timing:
    """p50 and p99 in ms of GET ``url`` from one connection (the service's own latency), with
    one request header (``Authorization: Bearer ...`` or ``Cookie: ...``), and how many
    requests wrk completed (0 when one took longer than ``seconds``: no percentiles then)."""
    args = ["wrk", "-t1", "-c1", f"-d{seconds}s", "--timeout", "600s", "--latency"]
    output = subprocess.run(
        [*args, "-H", header, url], capture_output=True, text=True, check=True
    ).stdout
    assert "Non-2xx" not in output, output

    def at(percent: str) -> float:
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        assert match, output
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return float(match.group(1)) * scale

    done = re.search(r"(\d+) requests in", output)
    assert done, output
    return at("50"), at("99"), int(done.group(1))


def bearer(principal: Principal) -> str:
    return (
        f"Authorization: Bearer {AccessTokens(KEY).mint(principal, timedelta(hours=2), utc_now())}"
    )


def page_session(settings: Settings, principal: Principal) -> str:
    """A signed-in page session for ``principal``, started in the store as ``POST /sign-in``
    starts one (the form's CSRF round trip is not what is measured): its id, the cookie."""
    store = ViewStore.open(settings.eventsourcing_env())
    try:
        now = utc_now()
        return SignIns(store).start(principal, now + timedelta(hours=2), now)
    finally:
        store.close()


def session_cookie(settings: Settings, principal: Principal) -> str:
    return f"Cookie: {COOKIE}={page_session(settings, principal)}"


def filled_store(
    stack: ExitStack, folder: Path, store: str, claims: int
) -> tuple[Settings, Path, UUID]:
    """A fresh store holding ``claims`` approved claims of the bench partner, its views up
    to date: its settings, its catalog file and one claim's id."""
    if store == "postgresql":
        server = stack.enter_context(throwaway_cluster(durable=True))
        settings = Settings(database_url=create_database(server), secret_key=KEY)
    else:
        settings = Settings(database_url=f"sqlite:///{folder}/reads.sqlite3", secret_key=KEY)
    catalog = folder / "catalog.json"
    catalog.write_text(bench_catalog(claims, open_engagement=True).model_dump_json())
    ledger = open_ledger(settings, bench_catalog(claims, open_engagement=True))
    started = time.perf_counter()
    print(f"writing {claims:,} claims and their views ({store}) ...", flush=True)
    populate(ledger, claims)
    views = ViewStore.open(settings.eventsourcing_env())
    caught_up = time.perf_counter()
    ViewRunner(ledger, views).catch_up()
    print(f"  views built in {time.perf_counter() - caught_up:.0f} s", flush=True)
    views.close()
    if store == "postgresql":  # as autovacuum does soon after: else it runs during the GETs
        with psycopg.connect(settings.database_url, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE)")
    claim_id = next(ledger.claim_ids())
    ledger.close()
    print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)
    return settings, catalog, claim_id


def timed_gets(url: str, gets: dict[str, tuple[str, str]], seconds: int) -> dict[str, Timing]:
    """p50/p99 of each named GET (path, header), one connection each, one after the other;
    each is first asked once (it must answer 200: a warm-up, and a check). A GET too slow
    for wrk to complete one in ``seconds`` keeps the warm-up's time as its one sample."""
    found = {}
    for name, (path, header) in gets.items():
        key, value = header.split(": ", 1)
        started = time.perf_counter()
        response = httpx.get(url + path, headers={key: value}, timeout=600)
        warm_ms = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        found[name] = latency(url + path, header, seconds)
        if found[name][2] == 0:
            found[name] = (warm_ms, warm_ms, 1)
    return found


def many_claims(args: argparse.Namespace) -> None:
    """``--claims N``: reads of a store that holds N approved claims, p50/p99 from one
    connection, and each one's ratio to ``/healthz``'s from one connection in the same run."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        settings, catalog, claim_id = filled_store(stack, folder, args.store, args.claims)
        partner, partner_page = bearer(PARTNER), session_cookie(settings, PARTNER)
        reviewer_page = session_cookie(settings, REVIEWER)
        # Without the workers: their first rounds on a store just filled (the log digest and
        # the checkpoints of every event) would share the two cores with the GETs measured.
        url = serve(stack, settings.database_url, catalog, args.processes, no_workers=True)
        tabs = "/v1/engagements/E-BENCH/customers?limit=50&tab="
        open_tabs = "/v1/engagements/E-BENCH-OPEN/customers?limit=50&tab="
        found = timed_gets(
            url,
            {
                "healthz": ("/healthz", partner),
                "tab": (tabs + "completed", partner),
                "eligible_tab": (tabs + "eligible", partner),
                "ineligible_tab": (tabs + "ineligible", partner),
                "open_eligible_tab": (open_tabs + "eligible", partner),
                "details": (f"/v1/claims/{claim_id}", partner),
                "dashboard": ("/dashboard", partner_page),
                "programme": ("/programme", reviewer_page),
                "summary": ("/v1/reports/summary", partner),
            },
            args.seconds,
        )
        print_latencies(args, found)


def print_latencies(args: argparse.Namespace, found: dict[str, Timing]) -> None:
    """One line of every GET's p50/p99, then one line per GET of its ratios to /healthz's."""
    head = f"bench http_rate store={args.store} processes={args.processes} claims={args.claims}"
    figures = " ".join(
        f"{n}_p50_ms={p50:.1f} {n}_p99_ms={p99:.1f}" for n, (p50, p99, _) in found.items()
    )
    print(f"{head} {figures}")
    completed99 = found["tab"][1]
    print(
        f"bench http_rate tabs store={args.store} claims={args.claims} "
        + " ".join(
            f"{name}_p99_over_completed={found[name][1] / completed99:.2f}"
            for name in ("eligible_tab", "ineligible_tab", "open_eligible_tab")
        )
        + " goal<=2"
    )
    floor50, floor99, _ = found["healthz"]
    for name, (p50, p99, samples) in found.items():
        print(
            f"bench http_rate page={name} store={args.store} claims={args.claims} "
            f"samples={samples} p50_ms={p50:.2f} p99_ms={p99:.2f} healthz_p50_ms={floor50:.2f} "
            f"healthz_p99_ms={floor99:.2f} ratio_p50={p50 / floor50:.1f} "
            f"ratio_p99={p99 / floor99:.1f}"
        )


def post_script(folder: Path, tenants: Path) -> Path:
    """A wrk script that creates one claim per request, each for a customer of its own."""
    template = (
        json.dumps(claim_body(0))
        .replace('"T0"', '"T%d"')
        .replace(tenant(0), "%s")
        .replace("c@t0.example", "c@t%d.example")
    )
    script = folder / "post.lua"
    script.write_text(
        f"""
local ids = {{}}
for line in io.lines("{tenants}") do ids[#ids + 1] = line end
offset = 0
local counter = 0
local threads = 0
function setup(thread)
  thread:set("offset", threads * 100000)
  threads = threads + 1
end
request = function()
  counter = counter + 1
  local n = offset + counter
  local body = string.format({json.dumps(template)}, n, ids[n + 1], n)
  return wrk.format("POST", "/v1/claims", nil, body)
end
"""
    )
    return script


def in_process_rate(settings: Settings, count: int) -> float:
    ledger = open_ledger(settings, bench_catalog(count + 1))
    try:
        started = time.perf_counter()
        for i in range(count):
            command = CreateClaims.model_validate(claim_body(i))
            ledger.create_claims(PARTNER, command, T0 + timedelta(seconds=i))
        return count / (time.perf_counter() - started)
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--no-workers", action="store_true", help="serve without the workers thread"
    )
    parser.add_argument("--processes", type=int, default=1, help="API processes (PostgreSQL)")
    parser.add_argument(
        "--claims", type=int, default=0, help="instead: GET latencies with this many claims"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    if args.claims:
        many_claims(args)
        return
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        catalog = folder / "catalog.json"
        catalog.write_text(bench_catalog(CUSTOMERS).model_dump_json())
        databases = iter(range(100))

        def store() -> Settings:
            if args.store == "sqlite":
                return Settings(database_url=f"sqlite:///{folder}/{next(databases)}.sqlite3")
            return Settings(database_url=create_database(server))

        server = (
            stack.enter_context(throwaway_cluster(durable=True))
            if args.store == "postgresql"
            else ""
        )
        served = store()
        url = serve(stack, served.database_url, catalog, args.processes, args.no_workers)
        token = AccessTokens(KEY).mint(PARTNER, timedelta(hours=1), utc_now())
        script = post_script(folder, tenants_file(folder))
        posts = wrk(f"{url}/v1/claims", token, args.seconds, script)
        gets = wrk(
            f"{url}/v1/engagements/E-BENCH/customers?tab=eligible&limit=50",
            token,
            args.seconds,
            None,
        )
        healthz = wrk(f"{url}/healthz", token, args.seconds, None)
        in_process = in_process_rate(store(), 1000)
        print(
            f"bench http_rate store={args.store} processes={args.processes} "
            f"post_per_s={posts:.0f} in_process_per_s={in_process:.0f} "
            f"ratio_in_process={posts / in_process:.2f} customers_tab_per_s={gets:.0f} "
            f"healthz_per_s={healthz:.0f}"
        )


if __name__ == "__main__":
    main()
