"""The service layer: the Ledger's commands and what they use: settings, clock, consent tokens."""
