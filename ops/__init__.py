"""Running Tally: the local stack, the CLI, metrics rules, dashboards and the bench harness."""
