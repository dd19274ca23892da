"""Helpers shared by integration tests: isolated settings, worker processes, Kafka/Redis I/O."""
