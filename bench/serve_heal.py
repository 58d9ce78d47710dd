"""How fast ``ledger serve --processes 2`` heals, against its own cold start.

Run: ``.venv/bin/python -m bench.serve_heal [--rounds 3]``. On a throwaway PostgreSQL it
starts ``ledger serve --processes 2`` (the cold start: to the first /healthz 200 and to
/readyz 200, the baseline), then each round: kill -9 of the workers process (until /readyz
says so, and until a new workers process has made it ready again), kill -9 of an API process
(until uvicorn replaced it), kill -9 of the parent (until every child has ended and the port
is free), and a new ``ledger serve`` on the same port (to /healthz 200 and /readyz 200). Each
time is printed with its ratio to the cold start's, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from testkit.chaos import SECRET, chaos_catalog
from testkit.pgcluster import create_database, free_port, throwaway_cluster
from testkit.processes import alive, children, cmdline, port_free
from testkit.serving import until


def status(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return 0


def seconds(predicate: Callable[[], object]) -> float:
    began = time.monotonic()
    until(predicate, 120)
    return time.monotonic() - began


def start(
    env: dict[str, str], port: int, log: Path
) -> tuple[subprocess.Popen[bytes], float, float]:
    """A ``ledger serve --processes 2``; the seconds to /healthz 200 and to /readyz 200."""
    began = time.monotonic()
    with log.open("ab") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(port), "--processes", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    until(lambda: status(f"{url}/healthz") == 200, 120)
    healthy = time.monotonic() - began
    until(lambda: status(f"{url}/readyz") == 200, 120)
    return serve, healthy, time.monotonic() - began


def of(serve: subprocess.Popen[bytes], mark: str) -> list[int]:
    return [c for c in children(serve.pid) if mark in cmdline(c)]


def one_round(
    env: dict[str, str], port: int, log: Path, serve: subprocess.Popen[bytes]
) -> tuple[subprocess.Popen[bytes], dict[str, float]]:
    url = f"http://127.0.0.1:{port}"
    times: dict[str, float] = {}
    workers = of(serve, "cli workers")[0]
    os.kill(workers, signal.SIGKILL)
    times["workers_kill_to_readyz_503"] = seconds(lambda: status(f"{url}/readyz") == 503)
    back = seconds(lambda: status(f"{url}/readyz") == 200 and of(serve, "cli workers"))
    times["workers_kill_to_ready_again"] = times["workers_kill_to_readyz_503"] + back
    api = of(serve, "spawn_main")[0]
    os.kill(api, signal.SIGKILL)
    times["api_kill_to_replaced"] = seconds(
        lambda: len(of(serve, "spawn_main")) == 2 and api not in of(serve, "spawn_main")
    )
    family = [serve.pid, *children(serve.pid)]
    os.kill(serve.pid, signal.SIGKILL)
    serve.wait()
    times["parent_kill_to_children_gone"] = seconds(
        lambda: not any(alive(p) for p in family) and port_free(port)
    )
    serve, times["restart_to_healthz_200"], times["restart_to_readyz_200"] = start(env, port, log)
    return serve, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with throwaway_cluster() as server, tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "LEDGER_DATABASE_URL": create_database(server),
            "LEDGER_SECRET_KEY": SECRET,
            "LEDGER_CATALOG": str(chaos_catalog(Path(folder), 50)),
            "LEDGER_WORKERS_STALE_SECONDS": "2",
        }
        port, log = free_port(), Path(folder) / "serve.log"
        serve, cold_healthz, cold_readyz = start(env, port, log)
        print(f"cold start: healthz_200_s={cold_healthz:.2f} readyz_200_s={cold_readyz:.2f}")
        try:
            for number in range(rounds):
                serve, times = one_round(env, port, log, serve)
                print(f"round {number + 1}: " + " ".join(
                    f"{name}_s={value:.2f} ratio={value / cold_readyz:.2f}"
                    for name, value in times.items()
                ))  # fmt: skip
        finally:
            serve.terminate()
            serve.wait(timeout=60)


if __name__ == "__main__":
    main()
