"""The seeded fault runner: `python -m devtools.faults --seeds 50` (see docs/RELIABILITY.md).

A seed fixes a workload (facts, holds, commits, releases, re-sends, one policy change) and
faults at chosen steps (kill -9, SIGSTOP past the session timeout, Kafka restart, Redis
restart, Redis FLUSHALL + resync, pusher kill -9, client re-sends); at the end the table,
the decisions, Redis and the pushed figures are compared with a reference fold of the log.
"""
