"""A seeded fault schedule: the workload (facts, holds, commits, releases, re-sends, one
policy change) and the faults, decided up front from one seed.

Pure and deterministic: the same seed gives the same plan (names, records, fault kinds,
the steps they land on). Only wall-clock stamps (`occurred_at`, `issued_at`) differ
between replays; the log assigns them, and the reference reads them back from the log.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from base.topics import partition_for
from devtools.workload.facts import FactWorkload

FaultKind = Literal[
    "kill9",
    "sigstop",
    "kafka_restart",
    "kafka_kill",
    "redis_restart",
    "redis_kill",
    "redis_flush",
    "pusher_kill",
    "gateway_kill",
    "client_resend",
    "net_delay",
    "net_stall",
    "net_drop",
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
# Relative weights when drawing a fault: the expensive ones (a stall past the session
# timeout, a broker restart) a little rarer than a kill.
FAULT_WEIGHTS: dict[FaultKind, int] = {
    "kill9": 4,
    "sigstop": 2,
    "kafka_restart": 1,
    "kafka_kill": 2,
    "redis_restart": 1,
    "redis_kill": 2,
    "redis_flush": 2,
    "pusher_kill": 2,
    "gateway_kill": 2,
    "client_resend": 2,
    "net_delay": 2,
    "net_stall": 2,
    "net_drop": 2,
}
WORKERS = 2
LOCATIONS = 3
HOLD_STOCK_UNITS_MIN, HOLD_STOCK_UNITS_MAX = 4, 12
CANARY_STOCK_UNITS = 50
HOLD_QTY_UNITS_MAX = 4
HOLD_TTL_S_MIN, HOLD_TTL_S_MAX = 1, 6
SIGSTOP_EXTRA_S_MIN, SIGSTOP_EXTRA_S_MAX = 2.0, 5.0  # beyond the session timeout
RESTART_DELAY_S_MAX = 2.0
BROKER_DOWN_S_MAX = 8.0  # kafka_kill: how long the broker stays dead
NET_DELAY_S_MIN, NET_DELAY_S_MAX = 0.05, 0.4  # net_delay: per chunk, each way
NET_FAULT_S_MIN, NET_FAULT_S_MAX = 2.0, 14.0  # net_delay / net_stall: how long
GATEWAY_KILL_AFTER_S_MAX = 0.5  # gateway_kill: how far into the step's requests
GATEWAY_SHARE = 0.4  # of the steps whose facts (and, apart, commands) go over HTTP


@dataclass(frozen=True)
class Size:
    """How big one seed's run is."""

    name: str
    steps: int  # workload steps (half before, half after the policy change)
    fact_skus: int
    hold_skus: int
    facts_per_step_max: int
    commands_per_step_max: int
    faults_min: int
    faults_max: int


SIZES: dict[str, Size] = {
    "small": Size("small", 16, 6, 3, 12, 4, 2, 4),
    "full": Size("full", 30, 10, 4, 20, 6, 3, 6),
}


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    step: int
    worker: int = 0  # kill9 / sigstop: which worker; kafka_*: which broker (wrapped)
    # sigstop: beyond the session timeout; net_delay / net_stall: how long; kafka_kill:
    # how long the broker stays dead; others: restart delay
    seconds: float = 0.0
    resend_step: int = 0  # client_resend: which earlier step's records are sent again
    delay_s: float = 0.0  # net_delay: per chunk; gateway_kill: into the step's requests

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "seconds": round(self.seconds, 2),
            "delay_s": round(self.delay_s, 3),
        }


@dataclass(frozen=True)
class Step:
    facts: tuple[dict[str, Any], ...]
    # Commands without `issued_at` (stamped when sent, as the gateway does).
    commands: tuple[dict[str, Any], ...]
    faults: tuple[Fault, ...] = ()
    facts_over_http: bool = False  # through the gateway, else straight to Kafka
    commands_over_http: bool = False


@dataclass(frozen=True)
class Plan:
    seed: int
    size: Size
    prefix: str
    locations: tuple[str, ...]
    web: str
    pos: str
    fact_skus: tuple[str, ...]
    hold_skus: tuple[str, ...]
    canaries: tuple[str, ...]  # one SKU per partition: proves each worker took a policy change
    setup_facts: tuple[dict[str, Any], ...]
    policy_before: tuple[dict[str, Any], ...]
    policy_after: tuple[dict[str, Any], ...]
    steps: tuple[Step, ...]
    phase_b_from: int  # the policy change sits before this step
    faults: tuple[Fault, ...] = field(default=())
    hold_channels: dict[str, str] = field(default_factory=dict)  # hold_id -> its channel
    brokers: int = 1

    def fault_counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
        for fault in self.faults:
            counts[fault.kind] += 1
        return counts


def build_plan(
    seed: int,
    size: Size,
    partitions: int,
    brokers: int = 1,
    kinds: tuple[FaultKind, ...] = FAULT_KINDS,
) -> Plan:
    """The seed's plan; `kinds` narrows the faults drawn (a hunt for one kind's bug)."""
    rng = random.Random(seed)
    prefix = f"f{seed}"
    locations = tuple(f"{prefix}-L{n}" for n in range(LOCATIONS))
    web, pos = f"{prefix}-web", f"{prefix}-pos"
    fact_skus = tuple(f"{prefix}-F{n}" for n in range(size.fact_skus))
    hold_skus = tuple(f"{prefix}-H{n}" for n in range(size.hold_skus))
    canaries = _canaries(prefix, partitions)
    setup = [
        _received(f"{prefix}-setup-{sku}-{loc}", sku, loc, rng.randint(*_hold_stock(sku)))
        for sku in (*hold_skus, *canaries)
        for loc in locations
    ]
    safety_after = rng.randint(1, 3)
    policy_before = (
        _channel(web, locations, buffer_units=1, version=1),
        _channel(pos, locations[:1], pickup=locations[1:2], version=1),
        _safety(locations[2], 1, version=1),
    )
    policy_after = (
        _channel(web, locations, buffer_units=rng.randint(0, 2), version=2),
        _safety(locations[0], safety_after, version=2),
    )
    facts = FactWorkload(seed=seed, skus=fact_skus, locations=locations, source=prefix)
    commands = _Commands(rng, prefix, hold_skus, web, pos, locations)
    steps = [
        Step(
            facts=tuple(facts.facts(rng.randint(1, size.facts_per_step_max))),
            commands=tuple(
                commands.draw() for _ in range(rng.randint(0, size.commands_per_step_max))
            ),
        )
        for _ in range(size.steps)
    ]
    faults = _faults(rng, size, brokers, kinds)
    for fault in faults:
        step = steps[fault.step]
        steps[fault.step] = replace(step, faults=(*step.faults, fault))
    steps = [
        replace(
            step,
            facts_over_http=rng.random() < GATEWAY_SHARE,
            commands_over_http=rng.random() < GATEWAY_SHARE,
        )
        for step in steps
    ]
    return Plan(
        seed=seed,
        size=size,
        prefix=prefix,
        locations=locations,
        web=web,
        pos=pos,
        fact_skus=fact_skus,
        hold_skus=hold_skus,
        canaries=canaries,
        setup_facts=tuple(setup),
        policy_before=policy_before,
        policy_after=policy_after,
        steps=tuple(steps),
        phase_b_from=size.steps // 2,
        faults=faults,
        hold_channels=commands.hold_channels,
        brokers=brokers,
    )


def _hold_stock(sku: str) -> tuple[int, int]:
    if "-C" in sku:
        return CANARY_STOCK_UNITS, CANARY_STOCK_UNITS
    return HOLD_STOCK_UNITS_MIN, HOLD_STOCK_UNITS_MAX


def _canaries(prefix: str, partitions: int) -> tuple[str, ...]:
    found: dict[int, str] = {}
    n = 0
    while len(found) < partitions:
        sku = f"{prefix}-C{n}"
        found.setdefault(partition_for(sku, partitions), sku)
        n += 1
    return tuple(found[p] for p in sorted(found))


def _faults(
    rng: random.Random, size: Size, brokers: int, kinds: tuple[FaultKind, ...]
) -> tuple[Fault, ...]:
    """The seed's faults at distinct steps; on a cluster, at least one broker kill -9."""
    if not kinds or not set(kinds) <= set(FAULT_KINDS):
        raise ValueError(f"fault kinds must be a non-empty subset of {FAULT_KINDS}: {kinds}")
    count = rng.randint(size.faults_min, size.faults_max)
    drawn = [kind for kind in FAULT_WEIGHTS if kind in kinds]
    weights = [FAULT_WEIGHTS[kind] for kind in drawn]
    at_steps = sorted(rng.sample(range(1, size.steps), count))
    faults = [_fault(rng, rng.choices(drawn, weights=weights)[0], step) for step in at_steps]
    if brokers > 1 and "kafka_kill" in kinds and not any(f.kind == "kafka_kill" for f in faults):
        middle = len(faults) // 2
        faults[middle] = _fault(rng, "kafka_kill", faults[middle].step)
    return tuple(faults)


def _fault(rng: random.Random, kind: FaultKind, step: int) -> Fault:
    if kind == "sigstop":
        seconds = rng.uniform(SIGSTOP_EXTRA_S_MIN, SIGSTOP_EXTRA_S_MAX)
    elif kind in ("net_delay", "net_stall"):
        seconds = rng.uniform(NET_FAULT_S_MIN, NET_FAULT_S_MAX)
    elif kind == "kafka_kill":
        seconds = rng.uniform(0.0, BROKER_DOWN_S_MAX)
    else:
        seconds = rng.uniform(0.0, RESTART_DELAY_S_MAX)
    delay_s = 0.0
    if kind == "net_delay":
        delay_s = rng.uniform(NET_DELAY_S_MIN, NET_DELAY_S_MAX)
    elif kind == "gateway_kill":
        delay_s = rng.uniform(0.0, GATEWAY_KILL_AFTER_S_MAX)
    return Fault(
        kind=kind,
        step=step,
        worker=rng.randrange(WORKERS),
        seconds=seconds,
        resend_step=rng.randrange(step + 1),
        delay_s=delay_s,
    )


class _Commands:
    """Reserve / commit / release intents over the hold SKUs, including re-sends, second
    resolutions of a hold and commands for holds that never existed."""

    def __init__(
        self,
        rng: random.Random,
        prefix: str,
        skus: tuple[str, ...],
        web: str,
        pos: str,
        locations: tuple[str, ...],
    ) -> None:
        self._rng = rng
        self._prefix = prefix
        self._skus = skus
        self._web, self._pos = web, pos
        self._locations = locations
        self._holds: list[tuple[str, str]] = []  # (hold_id, sku)
        self.hold_channels: dict[str, str] = {}  # hold_id -> the channel that placed it
        self._sent: list[dict[str, Any]] = []
        self._serial = 0

    def draw(self) -> dict[str, Any]:
        rng = self._rng
        roll = rng.random()
        if roll < 0.1 and self._sent:
            return dict(rng.choice(self._sent))  # a client re-send: same request_id
        if roll < 0.5 or not self._holds:
            command = self._reserve()
        elif roll < 0.9:
            hold_id, sku = rng.choice(self._holds)
            command = self._resolve(rng.choice(["commit", "release"]), hold_id, sku)
        else:
            unknown = f"{self._prefix}-nohold-{self._next()}"
            command = self._resolve("release", unknown, rng.choice(self._skus))
        self._sent.append(command)
        return command

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def _reserve(self) -> dict[str, Any]:
        rng = self._rng
        n = self._next()
        hold_id, sku = f"{self._prefix}-h{n}", rng.choice(self._skus)
        channel = rng.choice([self._web, self._web, self._pos])
        location: str | None = None
        if channel == self._pos and rng.random() < 0.5:
            location = self._locations[1]  # pick up in store
        elif rng.random() < 0.2:
            location = rng.choice(self._locations)
        self._holds.append((hold_id, sku))
        self.hold_channels[hold_id] = channel
        return {
            "type": "reserve",
            "request_id": f"{self._prefix}-r{n}",
            "hold_id": hold_id,
            "sku": sku,
            "channel": channel,
            "qty": rng.randint(1, HOLD_QTY_UNITS_MAX),
            "ttl_s": rng.randint(HOLD_TTL_S_MIN, HOLD_TTL_S_MAX),
            "location": location,
        }

    def _resolve(self, kind: str, hold_id: str, sku: str) -> dict[str, Any]:
        n = self._next()
        command: dict[str, Any] = {
            "type": kind,
            "request_id": f"{self._prefix}-{kind[0]}{n}",
            "hold_id": hold_id,
            "sku": sku,
        }
        if kind == "commit":
            command["order_id"] = f"{self._prefix}-o{n}"
        return command


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _received(event_id: str, sku: str, location: str, qty: int) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "received",
        "sku": sku,
        "location": location,
        "qty": qty,
        "occurred_at": _now(),
        "source": "faults-setup",
    }


def _channel(
    channel: str,
    locations: tuple[str, ...],
    *,
    version: int,
    buffer_units: int = 0,
    pickup: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "kind": "channel",
        "channel": channel,
        "locations": list(locations),
        "buffer_units": buffer_units,
        "pickup_locations": list(pickup),
        "version": version,
        "updated_at": _now(),
    }


def _safety(location: str, units: int, *, version: int) -> dict[str, Any]:
    return {
        "kind": "location",
        "location": location,
        "safety_stock_units": units,
        "version": version,
        "updated_at": _now(),
    }
