"""What the API and the page both stand on: a request's services and time, the command runner,
a refusal's status and problem+json, metrics, the claims CSV, shared request bodies."""
