"""An operator's bad day: `ledger serve` on PostgreSQL, killed and restarted while clients work.

The campaign itself, which ``bench/chaos.py`` runs and explains (its options and checks)."""

from __future__ import annotations

import email
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from aiosmtpd.controller import Controller

from ledger.aggregates.claim import Claim
from ledger.aggregates.referral import Referral
from ledger.audit.tamper import verify
from ledger.domain.access import AccessTokens
from ledger.domain.catalog import load_catalog
from ledger.domain.principal import Principal, Role
from ledger.runtime.bootstrap import bootstrap
from ledger.service.settings import Settings
from ledger.service.tokens import ConsentTokens
from testkit.pgcluster import create_database, free_port
from testkit.serving import wait_healthy
from testkit.views import view_snapshot
from testkit.workload import PARTNER, bench_catalog, claim_body

SECRET = "chaos-signing-key-long-enough-for-hs256-tokens"
PUBLIC_URL = "http://chaos.example"
REVIEWER = Principal("rita@reviews.example", None, frozenset({Role.REVIEWER}))
ONCE_PER_FLOW = {"ConsentRequested", "ConsentGiven", "Submitted", "ReviewStarted", "Approved"}
PAGE_SIZES = (7, 50, 2000, 3)
"""Each server its own view page size: runners of different pages must not double events."""


class Inbox:
    """What the SMTP server received, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def tokens(self) -> list[str]:
        with self.lock:
            messages = list(self.messages)
        found = []
        for message in messages:
            for part in message.walk():
                if part.get_content_type() == "text/plain":
                    body = part.get_payload(decode=True)
                    assert isinstance(body, bytes)
                    found += re.findall(rf"{re.escape(PUBLIC_URL)}/consent/(\S+)", body.decode())
        return found


@dataclass
class Server:
    """One ``ledger serve`` process, which the chaos may kill and start again."""

    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait(self) -> None:
        wait_healthy(self.url, self.process, lambda: self.log.read_text()[-3000:], seconds=60)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Tally:
    """What the clients saw."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    acknowledged: int = 0
    connection_errors: int = 0
    refused: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    races_broken: list[str] = field(default_factory=list)
    race_winners: int = 0
    steps: dict[UUID, set[str]] = field(default_factory=lambda: defaultdict(set))
    customers: dict[int, UUID] = field(default_factory=dict)

    def count(self, **changes: int) -> None:
        with self.lock:
            for name, n in changes.items():
                setattr(self, name, getattr(self, name) + n)


class Client:
    """Posts with an Idempotency-Key; on a connection error, again with the same key."""

    def __init__(self, servers: list[Server], tally: Tally, seed: int) -> None:
        self.servers = servers
        self.tally = tally
        self.random = random.Random(seed)
        self.http = httpx.Client(timeout=30)
        tokens = AccessTokens(Settings(secret_key=SECRET).signing_key())
        now = datetime.now(UTC)
        self.auth = {
            "partner": f"Bearer {tokens.mint(PARTNER, timedelta(hours=4), now)}",
            "reviewer": f"Bearer {tokens.mint(REVIEWER, timedelta(hours=4), now)}",
        }

    def post(self, path: str, body: Any, who: str | None, key: str) -> httpx.Response:
        headers = {"Idempotency-Key": key}
        if who is not None:
            headers["Authorization"] = self.auth[who]
        deadline = time.monotonic() + 120
        server = self.random.choice(self.servers)
        self.tally.count(requests=1)
        while True:
            try:
                return self.http.post(f"{server.url}{path}", json=body, headers=headers)
            except httpx.TransportError:
                self.tally.count(connection_errors=1)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                server = self.random.choice(self.servers)

    def step(self, name: str, path: str, body: Any, who: str | None, key: str) -> Any:
        """One request of a flow: must succeed; sometimes asked again, must answer alike."""
        answer = self.post(path, body, who, key)
        if not answer.is_success:
            with self.tally.lock:
                self.tally.refused.append(f"{name} {key}: {answer.status_code} {answer.text}")
            return None
        self.tally.count(acknowledged=1)
        found = answer.json()
        if self.random.random() < 0.2:
            again = self.post(path, body, who, key)
            if (again.status_code, _claim_ids(again)) != (answer.status_code, _claim_ids(answer)):
                with self.tally.lock:
                    self.tally.mismatched.append(f"{name} {key}: {again.status_code}")
        return found

    def flow(self, i: int, inbox: Inbox, tokens: ConsentTokens) -> None:
        """One customer's claim, from its creation to its approval."""
        made = self.step("create", "/v1/claims", claim_body(i), "partner", f"create-{i}")
        if made is None:
            return
        claim_id = UUID(made["claims"][0]["claim_id"])
        self.tally.customers[i] = claim_id
        done = self.tally.steps[claim_id]
        consent = {"deal_size_usd": "25000.00", "disclaimer_accepted": True}
        path = f"/v1/claims/{claim_id}"
        if self.step("consent", f"{path}/consent-request", consent, "partner", f"consent-{i}"):
            done.add("ConsentRequested")
        else:
            return
        token = _wait_for_link(inbox, tokens, claim_id)
        if token is None:
            return  # counted by the check of every link: never mailed
        if self.step("answer", f"/v1/consent/{token}", {"decision": "accept"}, None, f"a-{i}"):
            done.add("ConsentGiven")
        else:
            return
        proof = {"proof": [{"kind": "invoice", "reference": f"INV-{i}"}]}
        if self.step("submit", f"{path}/submission", proof, "partner", f"submit-{i}"):
            done.add("Submitted")
        else:
            return
        for action, event in (("start", "ReviewStarted"), ("approve", "Approved")):
            review = {"action": action}
            if self.step(action, f"{path}/review", review, "reviewer", f"{action}-{i}"):
                done.add(event)
            else:
                return


def _claim_ids(response: httpx.Response) -> list[str]:
    if not response.is_success:
        return []
    body = response.json()
    if "claims" in body:
        return [c["claim_id"] for c in body["claims"]]
    return [str(body.get("claim_id"))]


def _wait_for_link(inbox: Inbox, tokens: ConsentTokens, claim_id: UUID) -> str | None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for token in inbox.tokens():
            if tokens.read(token, datetime.now(UTC))[0] == claim_id:
                return token
        time.sleep(0.05)
    return None


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def start_servers(
    database_url: str, count: int, folder: Path, smtp_port: int, catalog: Path
) -> list[Server]:
    """``count`` servers started at the same instant on the database, each healthy."""
    servers = []
    for n in range(count):
        env = {
            **os.environ,
            "LEDGER_DATABASE_URL": database_url,
            "LEDGER_SECRET_KEY": SECRET,
            "LEDGER_CATALOG": str(catalog),
            "LEDGER_PUBLIC_URL": PUBLIC_URL,
            "LEDGER_SMTP_HOST": "127.0.0.1",
            "LEDGER_SMTP_PORT": str(smtp_port),
            "LEDGER_MAIL_FROM": "claims@chaos.example",
            "LEDGER_MAIL_RETRY_SECONDS": "2",
            "LEDGER_VIEW_PAGE_SIZE": str(PAGE_SIZES[n % len(PAGE_SIZES)]),
            "LEDGER_POSTGRES_POOL_SIZE": "20",
        }
        servers.append(Server(env, free_port(), folder / f"server-{n}.log"))
    for server in servers:
        server.start()
    for server in servers:
        server.wait()
    return servers


def chaos_catalog(folder: Path, customers: int) -> Path:
    """The bench catalog with referrals on: every approved flow's claim gets one."""
    catalog = bench_catalog(customers).model_dump(mode="json", exclude_none=True)
    catalog["engagements"][0]["referrals_enabled"] = True
    path = folder / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


def run(
    database_url: str,
    *,
    requests: int = 300,
    clients: int = 6,
    kills: int = 5,
    servers: int = 1,
    rounds: int = 0,
    racers: int = 16,
    seed: int = 1,
    progress: bool = True,
) -> dict[str, int]:
    """The whole run on a fresh database of the server at ``database_url``; the counts."""
    say = print if progress else (lambda *_: None)
    flows = 3 * (requests // 6) + 10  # enough for clients that go on until the last kill
    customers = flows + rounds + 1
    tally = Tally()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="ledger-chaos-") as tmp:
        folder = Path(tmp)
        inbox, smtp_port = stack.enter_context(smtp_server())
        catalog = chaos_catalog(folder, customers)
        url = create_database(database_url)
        say(f"starting {servers} server(s) at once on a fresh database")
        running = start_servers(url, servers, folder, smtp_port, catalog)
        for server in running:
            stack.callback(server.stop)
        tokens = ConsentTokens(Settings(secret_key=SECRET).signing_key())
        next_flow = iter(range(flows))
        flow_lock = threading.Lock()
        done = threading.Event()
        killed = threading.Event()

        def client(n: int) -> None:
            """Flows until ``requests`` were made and every kill happened meanwhile."""
            me = Client(running, tally, seed * 1000 + n)
            while tally.requests < requests or not killed.is_set():
                with flow_lock:
                    i = next(next_flow, None)
                if i is None:
                    return
                me.flow(i, inbox, tokens)

        def killer() -> None:
            chance = random.Random(seed)
            for k in range(kills):
                if done.wait(chance.uniform(0.3, 2.0)):
                    return
                victim = chance.choice(running)
                victim.kill()
                victim.start()
                victim.wait()
                say(f"  kill {k + 1}/{kills}: server on :{victim.port} killed and restarted")
            killed.set()

        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        chaos = threading.Thread(target=killer)
        for thread in [*threads, chaos]:
            thread.start()
        last = 0
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            if tally.requests - last >= 100:
                last = tally.requests
                say(f"  {tally.requests} requests, {tally.acknowledged} acknowledged")
        done.set()
        chaos.join()
        say(f"{tally.requests} requests in {time.monotonic() - started:.0f} s")
        for r in range(rounds):
            race(running, tally, customers - 1 - r, racers)
        counts = check(url, tally, inbox, tokens, running, say, catalog)
        for server in running:
            server.stop()
        counts["tracebacks"] = sum(s.log.read_text().count("Traceback") for s in running)
        counts["kills"] = sum(s.starts - 1 for s in running)
    return counts


def race(servers: list[Server], tally: Tally, customer: int, racers: int) -> None:
    """``racers`` creates for one customer at one instant, across the servers: one wins."""
    barrier = threading.Barrier(racers)
    answers: list[httpx.Response] = []

    def one(n: int) -> None:
        me = Client(servers, tally, customer * 100 + n)
        barrier.wait()
        answers.append(me.post("/v1/claims", claim_body(customer), "partner", f"r{customer}-{n}"))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [a for a in answers if a.status_code == 201]
    losers = [a for a in answers if a.status_code != 201]
    clean = all(
        a.status_code in {409, 422} and a.headers["content-type"] == "application/problem+json"
        for a in losers
    )
    tally.count(race_winners=len(winners))
    if len(winners) != 1 or not clean:
        tally.races_broken.append(f"customer {customer}: {[a.status_code for a in answers]}")


def check(
    url: str,
    tally: Tally,
    inbox: Inbox,
    tokens: ConsentTokens,
    servers: list[Server],
    say: Any,
    catalog: Path,
) -> dict[str, int]:
    """Compare what the clients were told with the store, the mail and a replay (on the
    servers' catalog, by which the kept Customers tabs were sorted)."""
    settings = Settings(database_url=url, secret_key=SECRET)
    services = bootstrap(settings, catalog=load_catalog(catalog))
    try:
        ledger = services.ledger
        events: dict[UUID, list[str]] = defaultdict(list)
        links: dict[UUID, UUID] = {}
        referrals: Counter[UUID] = Counter()
        for page in ledger.notification_pages():
            for notification in page:
                event = ledger.mapper.to_domain_event(notification)
                if isinstance(event, Claim.Event):
                    events[event.originator_id].append(type(event).__name__)
                    if isinstance(event, Claim.ConsentRequested | Claim.ConsentReminderSent):
                        links[event.originator_id] = event.link_id
                elif isinstance(event, Referral.Created):
                    referrals[event.claim_id] += 1
        made = {c for c, kinds in events.items() if kinds[0] in {"Added", "Claimed"}}
        lost = sum(1 for c in tally.customers.values() if c not in made) + sum(
            1 for c, steps in tally.steps.items() for step in steps if step not in events[c]
        )
        doubled = sum(
            1 for kinds in events.values() for kind, n in Counter(kinds).items() if n > 1
        ) + max(0, len(made) - len(tally.customers) - tally.race_winners)
        delivered = {tokens.read(t, datetime.now(UTC))[1] for t in inbox.tokens()}
        deadline = time.monotonic() + 60
        while set(links.values()) - delivered and time.monotonic() < deadline:
            time.sleep(0.5)  # the last e-mails, or one stuck by a kill and sent again
            delivered = {tokens.read(t, datetime.now(UTC))[1] for t in inbox.tokens()}
        unmailed = len(set(links.values()) - delivered)
        for server in servers:  # the views (one set, in the database) up to the head
            wait_until_caught_up(server)
        services.workers.views.catch_up()
        live = view_snapshot(services.workers)
        services.workers.views.replay()
        replayed = view_snapshot(services.workers)
        differences = sum(
            len(_rows(live[t]) ^ _rows(replayed[t])) for t in set(live) | set(replayed)
        )
        verified = verify(ledger, extend=False)
        for finding in verified.findings[:3]:
            say(f"  ! {finding}")
        counts = {
            "requests": tally.requests,
            "acknowledged": tally.acknowledged,
            "connection_errors": tally.connection_errors,
            "claims": len(events),
            "lost": lost,
            "doubled": doubled,
            "refused": len(tally.refused),
            "mismatched": len(tally.mismatched),
            "races_broken": len(tally.races_broken),
            "referrals": sum(referrals.values()),
            "referrals_doubled": sum(1 for n in referrals.values() if n > 1),
            "unmailed": unmailed,
            "view_differences": differences,
            "chain_mismatches": len(verified.findings) + verified.unlisted,
        }
        for line in (tally.refused + tally.mismatched + tally.races_broken)[:10]:
            say(f"  ! {line[:300]}")
        return counts
    finally:
        services.close()


def _rows(rows: list[dict[str, Any]]) -> set[str]:
    return {json.dumps(r, sort_keys=True, default=str) for r in rows}


def wait_until_caught_up(server: Server, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"{server.url}/readyz", timeout=5)
            if ready.is_success and ready.json()["checks"]["projection_lag_events"] == 0:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
