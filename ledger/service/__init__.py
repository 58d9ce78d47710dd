"""The service the interfaces stand on: running a command, reading a query, a refusal's status."""
