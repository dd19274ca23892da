"""The Faust app: topics, tables, agents, timers, the Redis publisher and metrics."""
