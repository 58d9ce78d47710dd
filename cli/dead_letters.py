"""`ledger dead-letters`: the views and policies stopped at an event they fail on, and
`ledger dead-letters retry`: try them again now (docs/dead-letters.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import _services, console
from ledger.projections.dead_letters import DeadLetter
from ledger.runtime.workers import Workers

app = typer.Typer(invoke_without_command=True, no_args_is_help=False)

NOTHING_STOPPED = "nothing is stopped: every view and policy follows the log"


@app.callback()
def dead_letters(context: typer.Context) -> None:
    """The views and policies stopped at an event they cannot handle: which one, the event's
    position and type, its claim, the error, since when (UTC) and how many attempts failed.
    The others go on; a stopped one is retried with a growing wait, or now with `retry`
    once the cause is fixed (docs/dead-letters.md)."""
    if context.invoked_subcommand is not None:
        return
    services = _services()
    try:
        stuck = services.workers.views.stuck(fresh=True)
    finally:
        services.close()
    if not stuck:
        console.print(NOTHING_STOPPED)
        return
    table = Table(title=f"Stopped at an event ({len(stuck)})")
    for column in ("view or policy", "event", "claim", "error", "since (UTC)", "attempts"):
        table.add_column(column, justify="right" if column == "attempts" else "left")
    for letter in stuck:
        table.add_row(
            f"{letter.name} {letter.kind}", f"{letter.position} {letter.event_type}",
            letter.claim_id or "", escape(letter.error),
            f"{letter.first_failed_at:%Y-%m-%d %H:%M:%S}", str(letter.attempts),
        )  # fmt: skip
    console.print(table)
    console.print("After fixing the cause, run `ledger dead-letters retry`.")


@app.command()
def retry(
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Only this view or policy, named as `ledger dead-letters` lists it "
            "(claims, directory, referral, co_sell).",
        ),
    ] = None,
) -> None:
    """Retry the stopped views and policies now (after a fix is deployed), and say for each
    whether it got past its event or failed again. Exit code 1 if one is still stopped."""
    services = _services()
    try:
        workers = services.workers
        retried = workers.views.retry_now(name)
        if retried:
            _run(workers)
        after = {d.follower: d for d in workers.views.stuck(fresh=True)}
    finally:
        services.close()
    if not retried:
        console.print(f"nothing named {escape(name)} is stopped" if name else NOTHING_STOPPED)
        return
    still = [_say(letter, after.get(letter.follower)) for letter in retried]
    if any(still):
        raise typer.Exit(1)


def _run(workers: Workers) -> None:
    """What a worker's round does to the views and the policies."""
    workers.views.catch_up()
    workers.policies.catch_up()
    workers.views.catch_up()


def _say(before: DeadLetter, now: DeadLetter | None) -> bool:
    """One line on how a retry went; whether the view or policy is still stopped."""
    who = f"the {before.name} {before.kind}"
    if now is None:
        console.print(f"{who} got past event {before.position} and follows the log again")
        return False
    if now.position == before.position:
        console.print(
            f"{who} failed again at event {now.position} ({now.event_type}): "
            f"{escape(now.error)} (attempt {now.attempts}); fix the cause and retry"
        )
    else:
        console.print(
            f"{who} got past event {before.position} but stopped at event {now.position} "
            f"({now.event_type}): {escape(now.error)}"
        )
    return True
