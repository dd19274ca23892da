"""Seeded workloads of valid wire records (facts, holds, policy), for tests, faults and bench."""
