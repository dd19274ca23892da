"""A service the CLI needs is down: say which one, where, and how to start it."""

from __future__ import annotations

START_HINT = "start the local stack with `tally up` (or `make up`)"


class ServiceDown(Exception):
    """Kafka, Redis or a metrics endpoint did not answer."""

    def __init__(self, service: str, address: str, detail: str, hint: str = START_HINT) -> None:
        self.service = service
        self.address = address
        self.detail = detail
        self.hint = hint
        super().__init__(f"{service} is not reachable at {address} ({detail}); {hint}")

    def as_dict(self) -> dict[str, str]:
        return {
            "error": "service_down",
            "service": self.service,
            "address": self.address,
            "detail": self.detail,
            "hint": self.hint,
        }
