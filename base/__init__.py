"""The base every layer may import: settings and the public wire contract (topic names,
Redis keys, the figure version, the dead-letter record, the positions table's layout)."""
