"""What the tests and the benchmarks share: a throwaway PostgreSQL cluster, a served process's
health, the bench workload, the view snapshot, and the chaos and log-order campaigns."""
