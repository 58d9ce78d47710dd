"""The `ledger` command: one small module per command group, on top of the service, the API
and the page (``cli.site`` is the one place that puts the API and the page together)."""
