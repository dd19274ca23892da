"""The CLI's own parts of the on-call views: `--json` bodies and order reads.

The readers themselves (stock, explain, history, top, Kafka and Redis reads) live in
connectors/inspect, shared with the web console.
"""
