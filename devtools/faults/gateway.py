"""The HTTP gateway in a fault run: a child process (kill -9, restart) with API keys of the
run's own, and a client that sends part of the workload through it as a shop would.

The client retries a 5xx (503: Kafka or Redis unavailable; 504: no decision in time), a 429
and a refused or cut connection with the same body — the same `event_id`s, the same
`request_id` — until an answer, as docs/API.md tells clients to. Every answer to a hold
request is kept: the judge compares it with the first decision of its request.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

from base.settings import Settings
from connectors.auth import new_key, save_keys
from ops.child_process import ChildProcess
from ops.stack.ports import free_port

RETRY_PAUSE_S = 0.5
RETRY_FOR_S = 240.0  # a broker or worker outage plus its recovery, with room
REQUEST_TIMEOUT_S = 20.0  # above the gateway's own hold wait (5 s)
READY_TIMEOUT_S = 60.0
FINAL = {201, 202, 404, 409}  # 404: hold_not_found (or another channel's hold)


class GatewayError(RuntimeError):
    """The gateway refused a request the plan made valid, or never answered."""


class Gateway:
    """`python -m connectors.gateway` for one run, and its client."""

    def __init__(self, settings: Settings, workdir: Path, channels: tuple[str, ...]) -> None:
        keys_file = workdir / "gateway-keys.json"
        scanner_key, scanner = new_key("scanner")
        channel_keys = {c: new_key(f"channel:{c}") for c in channels}
        save_keys(keys_file, [scanner, *(record for _, record in channel_keys.values())])
        self._keys = {"scanner": scanner_key, **{c: k for c, (k, _) in channel_keys.items()}}
        gateway = settings.gateway.model_copy(update={"port": free_port(), "keys_file": keys_file})
        self.settings = settings.model_copy(update={"gateway": gateway})
        self.url = f"http://127.0.0.1:{gateway.port}"
        self.logs = workdir
        self.child: ChildProcess | None = None
        self.answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.statuses: Counter[str] = Counter()  # every response and transport error seen
        self._starts = 0

    def start(self) -> None:
        """Start the gateway unless it runs: two overlapping kill-then-start faults must not
        leave a second process behind (seed 7 left one busy for an hour after its run)."""
        if self.alive():
            return
        self._starts += 1
        log = self.logs / f"gateway-{self._starts}.log"
        self.child = ChildProcess("connectors.gateway", [], self.settings, log).start()
        self.child.wait_until(self._answers, "did not answer /healthz", READY_TIMEOUT_S)

    def _answers(self) -> bool:
        try:
            httpx.get(f"{self.url}/healthz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return True

    def kill(self) -> None:
        if self.child is not None:
            self.child.kill_hard()

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(timeout_s=10)

    # --- the client -----------------------------------------------------------------------

    async def post_facts(self, facts: list[dict[str, Any]]) -> None:
        """POST /v1/events (202 once Kafka acknowledged every fact)."""
        await self._post("/v1/events", {"events": facts}, self._keys["scanner"])

    async def send_command(self, command: dict[str, Any]) -> None:
        """A reserve, commit or release as the gateway routes take it, with the key of the
        command's channel (a commit's or release's: the hold's); its answer is kept by
        request_id."""
        kind, hold = command["type"], command["hold_id"]
        body = {k: v for k, v in command.items() if k not in ("type", "issued_at")}
        if kind == "reserve":
            path, key = "/v1/holds", self._keys[command["channel"]]
        else:
            path, key = f"/v1/holds/{hold}/{kind}", self._keys[command["channel"]]
            body = {k: v for k, v in body.items() if k in ("sku", "order_id", "request_id")}
        answer = await self._post(path, body, key)
        self.answers[command["request_id"]].append(answer)

    async def _post(self, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        deadline = time.monotonic() + RETRY_FOR_S
        headers = {"authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=self.url, timeout=REQUEST_TIMEOUT_S) as client:
            while time.monotonic() < deadline:
                try:
                    response = await client.post(path, json=body, headers=headers)
                except httpx.TransportError as error:  # refused, reset, timed out: retry
                    self.statuses[type(error).__name__] += 1
                    await asyncio.sleep(RETRY_PAUSE_S)
                    continue
                self.statuses[str(response.status_code)] += 1
                if response.status_code in FINAL:
                    answer: dict[str, Any] = response.json()
                    return answer
                if response.status_code < 500 and response.status_code != 429:
                    raise GatewayError(f"POST {path}: {response.status_code} {response.text}")
                await asyncio.sleep(RETRY_PAUSE_S)
        raise GatewayError(f"POST {path}: no answer within {RETRY_FOR_S:g}s")
