"""Developer tooling: benchmarks, the fault runner, the workload generator, the demo feed.
It may import the product; no product module imports it (import-linter checks)."""
