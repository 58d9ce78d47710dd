"""The `ledger` command: one small module per command group, on top of the service, the API
and the page (``cli.site`` is the one place that puts the API and the page together)."""

import os as _os

if _os.environ.get("LEDGER_SERVE_PID"):
    # A child of ``ledger serve --processes N`` (an API process importing ``cli.site``, or the
    # workers process): it dies with its parent, asked for before the seconds of imports that
    # follow, so that a parent killed meanwhile does not leave it holding the port.
    from cli.supervise import die_with_parent, parent_from_environment

    die_with_parent(parent_from_environment())
