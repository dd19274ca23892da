"""Read-only views of a running Tally for people on call (`tally stock|history|explain|top`).

The worker's RocksDB is locked while it runs, so ledger state is read from Kafka (the
positions table's compacted changelog, read_committed), policy from `tally.policy`, and the
published figures with their versions from Redis. Nothing here writes anywhere.
"""
