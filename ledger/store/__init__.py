"""Storage: recorders in log order, hash chains, the key ring, the mapper, the schema."""
