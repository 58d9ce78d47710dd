"""The ``ledger`` command line: serve, workers, demo, tokens, history, replay, report, verify."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ledger import audit, logs
from ledger.access import AccessTokens
from ledger.aggregates.claim import Claim
from ledger.aggregates.values import usd_text
from ledger.application import Ledger, open_ledger
from ledger.as_of import events_until, parse_as_of
from ledger.bootstrap import Services, bootstrap
from ledger.catalog import CatalogError, load_catalog
from ledger.clock import Clock, utc_now
from ledger.csv_cells import csv_text
from ledger.erasure import forget as erasure_forget
from ledger.errors import InvalidInputError, NotFoundError
from ledger.event_fields import event_details, recorded_fields
from ledger.migrate import copy_events, open_source
from ledger.policies import deadlines
from ledger.policies.consent_message import ConsentMail
from ledger.principal import PARTNER_ROLES, Principal, Role
from ledger.projections.base import ts
from ledger.projections.claim_queries import ClaimRow, claim_at
from ledger.projections.claims import Status
from ledger.projections.runner import ViewRunner
from ledger.projections.store import ViewStore
from ledger.report import report as build_report
from ledger.settings import Settings, SettingsError

app = typer.Typer(help="Claim Ledger: an event-sourced ledger for partner incentive claims.")
console = Console()
OPERATOR = Principal("cli-operator", roles=frozenset({Role.AUDITOR}))


def settings_or_exit() -> Settings:
    """The LEDGER_* settings, or a clear message and exit code 2 when one is wrong."""
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "LEDGER_" + str(first["loc"][0]).upper() if first["loc"] else "LEDGER_*"
        console.print(f"[red]settings error[/red] {name}: {first['msg']}")
        raise typer.Exit(2) from None


def _ledger() -> Ledger:
    settings = settings_or_exit()
    try:
        return open_ledger(settings)
    except CatalogError as error:
        console.print(f"[red]catalog error[/red] {error}")
    except SettingsError as error:
        console.print(f"[red]settings error[/red] {error}")
    raise typer.Exit(2)


def _parse_now(now: str | None) -> datetime:
    if now is None:
        return utc_now()
    try:
        parsed = datetime.fromisoformat(now)
    except ValueError:
        raise typer.BadParameter(f"{now!r} is not an ISO-8601 date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
def history(
    claim_id: Annotated[str, typer.Argument(help="The claim's id (a UUID).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per event.")] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="ISO-8601 time with a time zone: the events up to then, and the claim as "
            "it stood then.",
        ),
    ] = None,
) -> None:
    """Print a claim's events, in order, with time and actor: the audit trail."""
    try:
        claim_uuid = UUID(claim_id)
    except ValueError:
        raise typer.BadParameter(f"{claim_id!r} is not a claim id (a UUID)") from None
    moment = None if as_of is None else _parse_as_of(as_of)
    ledger = _ledger()
    try:
        events = ledger.history(OPERATOR, claim_uuid)
    except NotFoundError:
        console.print(f"[red]no claim {claim_uuid}[/red]")
        raise typer.Exit(1) from None
    if moment is not None:
        _history_as_of(claim_uuid, events, moment, as_json)
        return
    if as_json:
        for event in events:
            sys.stdout.write(json.dumps(_event_record(event)) + "\n")
        return
    console.print(f"[bold]Claim {claim_uuid}[/bold]: {len(events)} events")
    _print_events(events)


def _event_record(event: Claim.Event) -> dict[str, object]:
    return {
        "version": event.originator_version,
        "event": type(event).__name__,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor.model_dump(mode="json"),
        "data": event_details(event),
    }


def _print_events(events: list[Claim.Event]) -> None:
    for event in events:
        console.print(
            f"[bold]#{event.originator_version}[/bold] "
            f"{event.occurred_at:%Y-%m-%d %H:%M:%S} UTC  [cyan]{type(event).__name__}[/cyan]  "
            f"by {event.actor.kind.value}:{escape(event.actor.id)}"
        )
        _print_fields(event_details(event))


def _print_fields(data: object) -> None:
    """Recorded values as they are: text such as ``[erased]`` or ``[/x]`` is not markup."""
    for key, value in recorded_fields(data):
        console.print(f"    {key}: {value}", highlight=False, soft_wrap=True, markup=False)


def _parse_as_of(text: str) -> datetime:
    try:
        return parse_as_of(text, utc_now(), field="--as-of")
    except InvalidInputError as error:
        problems = error.extra.get("errors")
        message = problems[0]["message"] if isinstance(problems, list) else error.detail
        raise typer.BadParameter(str(message), param_hint="--as-of") from None


def _history_as_of(
    claim_id: UUID, events: list[Claim.Event], moment: datetime, as_json: bool
) -> None:
    """The events up to ``moment``, then the claim as it stood then (SPEC 11)."""
    until = events_until(events, moment)
    claim = claim_at(until, moment)
    if claim is None:
        console.print(
            f"[red]claim {claim_id} did not exist yet at {moment:%Y-%m-%d %H:%M:%S} UTC[/red]"
        )
        raise typer.Exit(1)
    record = _claim_record(claim, moment)
    if as_json:
        for event in until:
            sys.stdout.write(json.dumps(_event_record(event)) + "\n")
        sys.stdout.write(json.dumps({"as_of": ts(moment), "claim": record}) + "\n")
        return
    console.print(
        f"[bold]Claim {claim_id}[/bold] as of {moment:%Y-%m-%d %H:%M:%S} UTC: "
        f"{len(until)} of {len(events)} events"
    )
    _print_events(until)
    console.print(
        f"[bold]As of {moment:%Y-%m-%d %H:%M:%S} UTC[/bold]: [cyan]{claim.state.label}[/cyan]"
    )
    _print_fields(record)


def _claim_record(claim: ClaimRow, moment: datetime) -> dict[str, object]:
    """The claim as it stood at ``moment``: state, deadlines and days left then, payout."""

    def money(amount: Decimal | None) -> str | None:
        return None if amount is None else usd_text(amount)

    return {
        "claim_id": str(claim.claim_id),
        "partner_id": claim.partner_id,
        "engagement_id": claim.engagement_id,
        "location_id": claim.location_id,
        "friendly_name": claim.friendly_name,
        "customer_id": {"type": claim.customer_id.type.value, "value": claim.customer_id.value},
        "state": claim.state.value,
        "label": claim.state.label,
        "terminal": claim.state.terminal,
        "version": claim.version,
        "updated_at": ts(claim.updated_at),
        "deadlines": {kind.value: ts(at) for kind, at in claim.deadlines.items()},
        "running_deadline_kind": claim.running_deadline_kind and claim.running_deadline_kind.value,
        "running_deadline": claim.running_deadline and ts(claim.running_deadline),
        "days_left": claim.days_left(moment),
        "deal_size_usd": money(claim.deal_size_usd),
        "payout_model": claim.payout_model.value,
        "fixed_payout_usd": money(claim.fixed_payout_usd),
        "hours": claim.hours,
        "proposed_payout_usd": money(claim.proposed_payout_usd),
        "payout_usd": money(claim.payout_usd),
        "had_consent": claim.had_consent,
        "submissions": claim.submissions,
        "disputed": claim.disputed,
        "last_reason": claim.last_reason,
        "referral_id": claim.referral_id and str(claim.referral_id),
        "co_sell": claim.co_sell,
        "contacts": claim.contacts.model_dump(mode="json"),
    }


def _views(ledger: Ledger) -> ViewRunner:
    return ViewRunner(ledger, ViewStore.open(settings_or_exit().eventsourcing_env()))


def _services(clock: Clock = utc_now) -> Services:
    """Every service, wired as ``ledger serve`` wires them; a wrong setting exits with 2."""
    settings = settings_or_exit()
    try:
        return bootstrap(settings, clock=clock)
    except CatalogError as error:
        console.print(f"[red]catalog error[/red] {error}")
    except SettingsError as error:
        console.print(f"[red]settings error[/red] {error}")
    raise typer.Exit(2)


@app.command("expire-due")
def expire_due(
    now: Annotated[
        str | None, typer.Option(help="ISO-8601 time to apply deadlines at (default: now).")
    ] = None,
) -> None:
    """Apply every deadline that has passed at --now (R50); running it twice changes nothing."""
    at = _parse_now(now)
    ledger = _ledger()
    views = _views(ledger)
    expired = deadlines.expire_due(ledger, views, at)
    views.store.close()
    console.print(f"{len(expired)} claim(s) expired at {at.isoformat()}")
    for claim_id in expired:
        console.print(f"  {claim_id}")


def _progress_bar(description: str) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10} events/s"),
        TimeElapsedColumn(),
        console=console,
    )


def _tracked(progress: Progress, description: str) -> Callable[[int, int], None]:
    task = progress.add_task(description, total=None, rate="")
    started = time.perf_counter()

    def update(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        progress.update(task, completed=done, total=total, rate=f"{rate:,.0f}")

    return update


@app.command()
def replay() -> None:
    """Rebuild every read model from the events into fresh tables, then switch to them."""
    ledger = _ledger()
    views = _views(ledger)
    started = time.perf_counter()
    with _progress_bar("replay") as progress:
        applied = views.replay(_tracked(progress, "replaying events"))
    seconds = time.perf_counter() - started
    console.print(
        f"replayed {applied:,} events in {seconds:.1f} s ({applied / max(seconds, 1e-9):,.0f} "
        f"events/s); the views now read generation {views.store.generation()}"
    )
    views.store.close()


@app.command()
def forget(
    email: Annotated[str, typer.Option("--email", help="The contact's e-mail address (any case).")],
) -> None:
    """Erase a contact's personal data: its name and e-mail address read [erased] everywhere
    from now on (history, views, exports, replays), its consent e-mail files are removed, and
    the erasure is recorded (by whom, when; not what). The events stay as they are."""
    if "@" not in email or not email.isprintable():
        raise typer.BadParameter(f"{email!r} is not an e-mail address", param_hint="--email")
    settings = settings_or_exit()
    ledger = _ledger()
    views = _views(ledger)
    try:
        erasure = erasure_forget(
            ledger, views, settings.mail_directory(), OPERATOR, email, utc_now()
        )
    except NotFoundError as error:
        console.print(f"[red]{error.slug}[/red]: {error.detail}")
        raise typer.Exit(1) from None
    finally:
        views.store.close()
    console.print(
        f"erased the contact of key {erasure.key_id} at {erasure.erased_at.isoformat()}: "
        f"{len(erasure.claims)} claim(s) held it; {erasure.mail_files_removed} e-mail file(s) "
        "removed"
    )


@app.command()
def migrate(
    to: Annotated[
        str,
        typer.Option(
            "--to", help="The database URL of the new, empty store (sqlite:/// or postgresql://)."
        ),
    ],
) -> None:
    """Copy every event of this store (LEDGER_DATABASE_URL), in the order they were written,
    into a new, empty store of this release's layout (hash chain, commit order, contacts
    sealed), with progress; then point LEDGER_DATABASE_URL at it and run `ledger replay`."""
    settings = settings_or_exit()
    try:
        target_settings = Settings(database_url=to)
        catalog = load_catalog(settings.catalog)
        source = open_source(settings, catalog)
        target = open_ledger(target_settings, catalog)
    except (ValidationError, SettingsError, CatalogError) as error:
        console.print(f"[red]cannot migrate[/red]: {error}")
        raise typer.Exit(2) from None
    try:
        with _progress_bar("migrate") as progress:
            copied = copy_events(source, target, _tracked(progress, "copying events"))
    except ValueError as error:
        console.print(f"[red]cannot migrate[/red]: {error}")
        raise typer.Exit(2) from None
    finally:
        source.close()
        target.close()
    console.print(
        f"copied {copied:,} events into the new store; set LEDGER_DATABASE_URL to it and run "
        "`ledger replay` (keep LEDGER_SECRET_KEY, or the SQLite key file, so that consent "
        "links and tokens stay valid)"
    )


@app.command()
def report(
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV instead of a table.")] = False,
) -> None:
    """Counts, deal size and payout by engagement and state, replayed from the events."""
    ledger = _ledger()
    if as_csv:  # the CSV alone on stdout, nothing before it
        rows = build_report(ledger, None)
    else:
        with _progress_bar("report") as progress:
            rows = build_report(ledger, _tracked(progress, "reading events"))
    if as_csv:
        header = ["engagement_id", "state", "claims", "deal_size_usd", "payout_usd"]
        cells = [
            [r.engagement_id, r.state, r.claims, usd_text(r.deal_size_usd), usd_text(r.payout_usd)]
            for r in rows
        ]
        sys.stdout.write(csv_text(header, cells))
        return
    table = Table(title="Claims by engagement and state")
    for column in ("engagement", "state", "claims", "deal size (USD)", "payout (USD)"):
        table.add_column(column, justify="right" if "(" in column or column == "claims" else "left")
    for row in rows:
        table.add_row(
            row.engagement_id,
            row.state,
            str(row.claims),
            f"{row.deal_size_usd:,.2f}",
            f"{row.payout_usd:,.2f}",
        )
    console.print(table)


def _digest_option(value: str | None) -> bytes | None:
    if value is None:
        return None
    text = value.strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise typer.BadParameter(
            "a log digest is 64 hexadecimal digits (as GET /v1/audit/digest gives it)"
        )
    return bytes.fromhex(text)


@app.command()
def verify(
    digest: Annotated[
        str | None,
        typer.Option(help="A log digest taken earlier (64 hex digits), to prove with --at."),
    ] = None,
    at: Annotated[
        int | None,
        typer.Option(min=1, help="The notification id the --digest was taken at."),
    ] = None,
) -> None:
    """Recompute every event's chained hash and the running log digest from the stored
    events and compare them with the stored ones (exit 1 naming the first that does not
    match); with --digest D --at N, also prove that the log up to N is the one digested D."""
    expected = _digest_option(digest)
    if (expected is None) != (at is None):
        raise typer.BadParameter("--digest and --at go together", param_hint="--digest/--at")
    ledger = _ledger()
    try:
        audit.check_verifiable(ledger, at)
        with _progress_bar("verify") as progress:
            result = audit.verify(
                ledger, at=at, expected=expected, progress=_tracked(progress, "verifying events")
            )
    except (audit.UnverifiableStoreError, audit.AtNotInLogError) as error:
        console.print(f"[red]cannot verify[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        ledger.close()
    rate = result.events / max(result.seconds, 1e-9)
    console.print(
        f"verified {result.events:,} events of {result.aggregates:,} aggregates in "
        f"{result.seconds:.1f} s ({rate:,.0f} events/s)",
        highlight=False,
    )
    for finding in result.findings:
        console.print(f"[red]MISMATCH[/red] {finding}", highlight=False, soft_wrap=True)
    if result.unlisted:
        console.print(f"... and {result.unlisted} more", highlight=False)
    if result.proof is not None:
        proof = result.proof
        if proof.holds:
            console.print(
                f"the log up to notification {proof.at} is the one whose log digest was "
                f"{proof.expected.hex()}",
                highlight=False,
                soft_wrap=True,
            )
        else:
            found = (
                f"the events up to it recompute to the log digest {proof.found.hex()}"
                if proof.found is not None
                else "that notification is no longer in the log"
            )
            console.print(
                f"[red]NOT PROVEN[/red] the log up to notification {proof.at} is not the one "
                f"whose log digest was {proof.expected.hex()}: {found}",
                highlight=False,
                soft_wrap=True,
            )
    if not result.ok:
        raise typer.Exit(1)
    console.print(
        "every event's stored hash is the SHA-256 of its content chained on its aggregate's "
        "previous event, and every stored log digest matches",
        highlight=False,
    )
    console.print(result.digest.describe(), highlight=False, soft_wrap=True)


@app.command()
def workers(
    once: Annotated[bool, typer.Option(help="Catch up once and exit.")] = False,
) -> None:
    """Run the projections and policies alone (for deployments that split them from the API)."""
    services = _services()
    logs.configure(services.settings.log_level, services.settings.log_format)
    runner = services.workers
    if once:
        work = runner.run_once()
        console.print(f"caught up: {work} items of work; lag {runner.views.lag()} events")
        services.close()
        return
    console.print("following the event log; Ctrl-C to stop")
    try:
        runner.run()
    except KeyboardInterrupt:
        pass
    finally:
        services.close()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        bool, typer.Option(help="Run projections and policies inside the service.")
    ] = True,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes (PostgreSQL only); the projections and policies then run "
            "in one `ledger workers` process beside them.",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (docs at /docs) on the configured store."""
    import uvicorn

    from api.serving import uvicorn_options
    from cli.site import create_app

    settings = settings_or_exit().serving(host, port)
    logs.configure(settings.log_level, settings.log_format)
    if settings.log_level != "DEBUG":  # its start-up lines: the ones printed below say it
        logging.getLogger("uvicorn").setLevel(logging.WARNING)
    if processes > 1 and settings.is_sqlite:
        console.print(
            "[red]cannot start[/red] --processes needs PostgreSQL: a SQLite file is served "
            "by one process"
        )
        raise typer.Exit(2)
    try:  # one process builds the app first: it checks the settings and creates the schema
        application = create_app(settings, clock=utc_now, run_workers=workers and processes == 1)
    except (CatalogError, SettingsError) as error:
        console.print(f"[red]cannot start[/red] {error}")
        raise typer.Exit(2) from None
    _say_where(settings, f"http://{host}:{port}")
    # Our logging only (log_config=None), and our access log instead of uvicorn's.
    if processes == 1:
        uvicorn.run(application, host=host, port=port, **uvicorn_options(settings))
        return
    application.state.services.close()
    _serve_processes(settings, host, port, processes, workers)


def _say_where(settings: Settings, url: str) -> None:
    console.print(f"Claim Ledger on {url} (API docs: {url}/docs; store: {settings.database_url})")
    console.print(
        "Get a token: ledger token --user alice@contoso.example --partner P-CONTOSO "
        "--role incentives_admin"
    )
    if settings.smtp_host:
        console.print(f"E-mails go over SMTP to {settings.smtp_host}:{settings.smtp_port}")
    else:
        console.print(
            f"E-mails are written to {settings.mail_directory()} (LEDGER_SMTP_HOST unset); "
            "list them with: ledger outbox"
        )


def _serve_processes(
    settings: Settings, host: str, port: int, processes: int, workers: bool
) -> None:
    """``processes`` uvicorn workers of the API and one ``ledger workers`` process."""
    import uvicorn

    from api.serving import uvicorn_options

    os.environ["LEDGER_PUBLIC_URL"] = settings.public_url  # the same links from every process
    follower = None
    if workers:
        follower = subprocess.Popen([sys.executable, "-m", "ledger.cli", "workers"])
    console.print(
        f"{processes} API processes"
        + (", and one process for the projections and policies" if workers else "")
    )
    try:
        uvicorn.run(
            "cli.site:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=processes,
            **uvicorn_options(settings),
        )
    finally:
        if follower is not None:
            follower.terminate()
            try:
                follower.wait(timeout=20)
            except subprocess.TimeoutExpired:
                follower.kill()


@app.command()
def outbox(
    status: Annotated[
        Status | None, typer.Option(help="Only the e-mails with this delivery status.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per e-mail.")] = False,
) -> None:
    """The consent e-mails, oldest first: recipient, subject, link and delivery status
    (pending, sent, stuck: claimed by a worker that stopped; superseded: never to be sent)."""
    services = _services()
    try:
        mailer = services.workers.mailer
        rows = mailer.outbox(only=status)
        mails = [mailer.mail(row) for row in rows]
    finally:
        services.close()
    folder = services.settings.mail_directory()
    if as_json:
        for row, mail in zip(rows, mails, strict=True):
            record = {
                "email_id": row["email_id"],
                "claim_id": row["claim_id"],
                "kind": row["kind"],
                "to": mail.recipient,
                "subject": mail.subject,
                "link": mail.link,
                "status": row["status"],
                "channel": row["channel"],
                "created_at": row["created_at"],
                "delivered_at": row["delivered_at"],
                "file": str(folder / row["file_name"]) if row["file_name"] else None,
            }
            sys.stdout.write(json.dumps(record) + "\n")
        return
    _print_outbox(rows, mails)


def _print_outbox(rows: list[dict[str, Any]], mails: list[ConsentMail]) -> None:
    def minute(stamp: str | None) -> str:
        return "" if stamp is None else stamp[:16].replace("T", " ")

    table = Table(title=f"Consent e-mails ({len(rows)})")
    for column in ("#", "status", "to", "subject", "created (UTC)", "delivered (UTC)"):
        table.add_column(column, justify="right" if column == "#" else "left")
    for number, (row, mail) in enumerate(zip(rows, mails, strict=True), start=1):
        delivered = ""
        if row["status"] == Status.SENT:
            delivered = f"{minute(row['delivered_at'])} {row['file_name'] or row['channel']}"
        table.add_row(
            str(number), str(row["status"]), escape(mail.recipient), escape(mail.subject),
            minute(row["created_at"]), delivered,
        )  # fmt: skip
    console.print(table)
    for number, mail in enumerate(mails, start=1):  # whole, on one line each: to copy
        console.print(f"#{number} {mail.link}", highlight=False, soft_wrap=True)


@app.command()
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
        console.print(f"[red]settings error[/red] {error}")
        raise typer.Exit(2) from None
    sys.stdout.write(AccessTokens(key).mint(principal, timedelta(seconds=ttl), utc_now()) + "\n")


@app.command()
def demo() -> None:
    """Play a realistic scenario through the public commands, then say where to look."""
    from ledger.demo.scenario import play

    moment = [utc_now()]
    services = _services(clock=lambda: moment[0])
    ledger = services.ledger
    if next(ledger.claim_ids(), None) is not None:
        console.print("This database already holds claims; the demo plays on an empty one.")
        console.print("Set LEDGER_DATABASE_URL=sqlite:///./demo.sqlite3 (a new file) to replay it.")
        _print_demo_tokens(ledger)
        services.close()
        raise typer.Exit(0)

    def settle(at: datetime) -> None:
        """The views and the policies follow the log at the scenario's time (no e-mail: the
        service sends what is still pending, with its own links)."""
        moment[0] = at
        services.workers.views.catch_up()
        services.workers.policies.catch_up()

    result = play(ledger, moment[0], lambda line: console.print(f"• {line}"), settle)
    settle(utc_now())
    table = Table(title="Claims played")
    table.add_column("claim")
    table.add_column("id", no_wrap=True, min_width=36)
    for column in ("partner", "engagement", "state"):
        table.add_column(column)
    for title, claim_id in result.claims.items():
        claim = ledger.get_claim(OPERATOR, claim_id)
        state = claim.state.label
        table.add_row(title, str(claim_id), claim.partner_id, claim.engagement_id, state)
    console.print(table)
    console.print(f"{len(result.expired)} claim(s) expired by the deadline policy.")
    first = next(iter(result.claims.values()))
    console.print(f"Where to look: [bold]ledger history {first}[/bold] (any id above).")
    _print_demo_tokens(ledger)
    services.close()


def _print_demo_tokens(ledger: Ledger) -> None:
    """The `ledger token` lines to try the demo as each kind of user, one copyable line each."""
    from ledger.demo.users import token_commands

    console.print("Tokens to try (run with the same LEDGER_DATABASE_URL, whose key signs them):")
    for who, command in token_commands(ledger.catalog):
        console.print(f"  # {who}", markup=False, highlight=False, soft_wrap=True)
        console.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    app()
