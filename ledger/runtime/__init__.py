"""What runs: bootstrap, workers, read-your-writes, sessions, erasure, migration."""
