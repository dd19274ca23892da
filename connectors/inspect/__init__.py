"""Read-only views of a running Tally, shared by the `tally` CLI and the web console.

The worker's RocksDB is locked while it runs, so ledger state is read from Kafka (the
positions table's compacted changelog, read_committed), policy from `tally.policy`, and the
published figures with their versions from Redis. Nothing here writes anywhere. They live
at the edge (not in ops/) so the console (connectors/console) can use them too.
"""
