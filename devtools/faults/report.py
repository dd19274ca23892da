"""What one seed's run reports: its faults, what was sent (straight to Kafka and over HTTP),
what the log held, unexpected exits, and every divergence from either judge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SeedReport:
    seed: int
    size: str
    brokers: int = 1
    ok: bool = False
    seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)
    fault_schedule: list[dict[str, Any]] = field(default_factory=list)
    facts_sent: int = 0
    commands_sent: int = 0
    facts_over_http: int = 0
    commands_over_http: int = 0
    http_statuses: dict[str, int] = field(default_factory=dict)  # also transport errors
    answers_checked: int = 0  # hold answers a client got, compared with the judge
    events_in_log: int = 0
    commands_in_log: int = 0
    decisions_in_log: int = 0
    pushed_deliveries: int = 0
    pushed_backwards: int = 0
    relay_drops: int = 0  # connections the relay cut
    repairs_logged: dict[str, int] = field(default_factory=dict)  # the watches, from worker logs
    unexpected_exits: list[dict[str, Any]] = field(default_factory=list)
    divergences: list[str] = field(default_factory=list)
    error: str | None = None

    def line(self) -> str:
        faults = ",".join(f"{k}={v}" for k, v in self.faults.items() if v)
        status = "ok" if self.ok else "DIVERGED" if self.divergences else "ERROR"
        exits = len(self.unexpected_exits)
        cluster = f" brokers={self.brokers}" if self.brokers > 1 else ""
        repairs = ",".join(f"{k}={v}" for k, v in self.repairs_logged.items())
        return (
            f"seed {self.seed} [{self.size}{cluster}] {status} {self.seconds:.0f}s"
            f" faults: {faults or '-'} facts={self.facts_sent} (http {self.facts_over_http})"
            f" commands={self.commands_sent} (http {self.commands_over_http})"
            f" decisions={self.decisions_in_log} answers={self.answers_checked}"
            f" pushed={self.pushed_deliveries} exits={exits} divergences={len(self.divergences)}"
            + (f" repairs: {repairs}" if repairs else "")
        )
