"""`ledger report` and `ledger verify`: the report folded from events, and the hash
chain and log digests checked."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.checkpoints import print_checkpoint_proof, read_checkpoint_file
from cli.common import (
    _ledger,
    _progress_bar,
    _tracked,
    console,
    settings_or_exit,
)
from ledger.aggregates.values import usd_text
from ledger.audit import tamper as audit
from ledger.audit.as_of import parse_as_of
from ledger.audit.checkpoint_proof import prove_checkpoint
from ledger.audit.contact_keys import verify_contact_keys
from ledger.audit.documents import verify_documents
from ledger.domain.errors import LedgerError
from ledger.projections.report import ReportRow
from ledger.projections.report import report as build_report
from ledger.projections.store import ViewStore
from ledger.projections.summary import by_engagement, replayed_inputs, summarize
from ledger.runtime.verifications import Verifications
from ledger.service.application import Ledger
from ledger.service.clock import utc_now
from ledger.service.csv_cells import csv_text
from ledger.store.documents import DocumentFolder
from ledger.words import i18n
from web.report import report_html


def report(
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV instead of a table.")] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Write the programme's figures and charts to this self-contained HTML file.",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="With --html: the events up to this ISO-8601 time."),
    ] = None,
    language: Annotated[
        str, typer.Option("--language", help="With --html: en or pt-BR.")
    ] = i18n.DEFAULT,
) -> None:
    """Counts, deal size and payout by engagement and state, replayed from the events; with
    --html, the programme at a glance (charts and tables) as one file."""
    ledger = _ledger()
    if html is not None:
        _html_report(ledger, html, as_of, language)
        return
    if as_csv:  # the CSV alone on stdout, nothing before it
        _print_csv(build_report(ledger, None))
        return
    with _progress_bar("report") as progress:
        rows = build_report(ledger, _tracked(progress, "reading events"))
    _print_table(rows)


def _print_csv(rows: list[ReportRow]) -> None:
    header = ["engagement_id", "state", "claims", "deal_size_usd", "payout_usd"]
    cells = [
        [r.engagement_id, r.state, r.claims, usd_text(r.deal_size_usd), usd_text(r.payout_usd)]
        for r in rows
    ]
    sys.stdout.write(csv_text(header, cells))


def _print_table(rows: list[ReportRow]) -> None:
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


def verify(
    digest: Annotated[
        str | None,
        typer.Option(help="A log digest taken earlier (64 hex digits), to prove with --at."),
    ] = None,
    at: Annotated[
        int | None,
        typer.Option(min=1, help="The notification id the --digest was taken at."),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="A signed checkpoint kept earlier: prove the log extends it."),
    ] = None,
    checkpoint_key: Annotated[
        str | None,
        typer.Option(help="With --checkpoint: its verifier key (else the ledger's own)."),
    ] = None,
) -> None:
    """Recompute every event's chained hash and the running log digest from the stored
    events and compare them with the stored ones (exit 1 naming the first that does not
    match); with --digest D --at N, also prove that the log up to N is the one digested D;
    with --checkpoint FILE, that the log extends the signed checkpoint kept in FILE."""
    expected = _digest_option(digest)
    if (expected is None) != (at is None):
        raise typer.BadParameter("--digest and --at go together", param_hint="--digest/--at")
    kept = None if checkpoint is None else read_checkpoint_file(checkpoint, checkpoint_key)
    size = 0 if kept is None else kept.tree_size
    ledger = _ledger()
    try:
        audit.check_verifiable(ledger, at)
        with _progress_bar("verify") as progress:
            result = audit.verify(
                ledger,
                at=at,
                expected=expected,
                progress=_tracked(progress, "verifying events"),
                tree_size=size,
            )
        beside = _verify_beside_log(ledger, result)
        held = None if kept is None else prove_checkpoint(ledger, result, kept)
    except (audit.UnverifiableStoreError, audit.AtNotInLogError) as error:
        console.print(f"[red]cannot verify[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        ledger.close()
    _record_and_print(result)
    console.print(beside, highlight=False)
    if held is not None:
        print_checkpoint_proof(held)
    if not result.ok or (held is not None and not held.holds):
        raise typer.Exit(1)
    console.print(
        "every event's stored hash is the SHA-256 of its content chained on its aggregate's "
        "previous event, and every stored log digest matches",
        highlight=False,
    )
    console.print(result.digest.describe(), highlight=False, soft_wrap=True)


def _verify_beside_log(ledger: Ledger, result: audit.Verification) -> str:
    """Every proof document's file is there and hashes to what its upload recorded
    (docs/documents.md), and every contact key the events were sealed under is in the key
    ring or was erased (docs/operations.md); each that is not is a finding. What was checked."""
    settings = settings_or_exit()
    folder = DocumentFolder(settings.documents_directory(), settings.document_max_bytes)
    documents, missing_files = verify_documents(ledger, folder)
    keys, lost_keys = verify_contact_keys(ledger)
    for finding in [*missing_files, *lost_keys]:
        result.add(finding)
    return f"checked the file of {documents:,} proof documents and the key of {keys:,} contacts"


def _record_and_print(result: audit.Verification) -> None:
    """Keep what this verification found, for the audit page (the last one shows there);
    then say what was checked, what did not match and, with --digest, the proof."""
    store = ViewStore.open(settings_or_exit().eventsourcing_env())
    try:
        Verifications(store).record(result, utc_now())
    finally:
        store.close()
    _print_checked(result)
    if result.proof is not None:
        _print_proof(result.proof)


def _print_checked(result: audit.Verification) -> None:
    """How many events were checked, how fast, and what did not match."""
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


def _print_proof(proof: audit.Proof) -> None:
    """Whether the log up to --at is the one digested --digest."""
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


def _html_report(ledger: Ledger, path: Path, as_of: str | None, language: str) -> None:
    if language not in i18n.LANGUAGES:
        raise typer.BadParameter(f"{language!r}: en or pt-BR", param_hint="--language")
    now = utc_now()
    moment = now if as_of is None else _as_of(as_of, now)
    with _progress_bar("report") as progress:
        rows, times = replayed_inputs(ledger, moment, _tracked(progress, "reading events"))
    total = summarize(rows, times, moment)
    engagements = by_engagement(rows, times, moment)
    path.write_text(report_html(total, engagements, ledger.catalog, moment, language))
    console.print(f"{total.total_claims} claims as of {moment.isoformat()}: wrote {path}")


def _as_of(text: str, now: datetime) -> datetime:
    try:
        return parse_as_of(text, now, field="--as-of")
    except LedgerError as error:
        raise typer.BadParameter(error.detail, param_hint="--as-of") from None
