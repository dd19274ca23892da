"""A service the CLI needs is down: say which one, where, and how to start it."""

from __future__ import annotations

from dataclasses import dataclass

START_HINT = "start the local stack with `tally up` (or `make up`)"


@dataclass(eq=False)  # eq=False: an exception stays hashable and compares by identity
class ServiceDown(Exception):
    """Kafka, Redis or a metrics endpoint did not answer (its fields are the `--json` body)."""

    service: str
    address: str
    detail: str
    hint: str = START_HINT

    def __str__(self) -> str:
        return f"{self.service} is not reachable at {self.address} ({self.detail}); {self.hint}"
