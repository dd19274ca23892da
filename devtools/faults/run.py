"""Run one seed: start the processes, play the plan with its faults, heal, then compare the
table, the decisions, Redis and the pushed figures with the reference fold of the log.

Everything runs on the fault stack (`fault_stack_settings`): its own stack home and ports,
never the shared stack, because a run restarts Kafka and Redis and flushes Redis.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import redis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from base import redis_keys
from base.settings import PusherSettings, Settings, TopicSettings
from base.topics import ensure_topics
from connectors.inspect.errors import ServiceDown
from connectors.inspect.kafka_read import TopicMissing, read_table
from devtools.faults import check, judge_check
from devtools.faults.plan import FAULT_KINDS, Fault, Plan, Size, build_plan
from devtools.faults.procs import (
    SESSION_TIMEOUT_S,
    CrashLoop,
    Supervisor,
    WebhookReceiver,
    faust_env,
)
from ops.resync import resync
from ops.stack.control import start_services, stop_services
from ops.stack.kafka import Kafka
from ops.stack.procs import locked, port_in_use
from ops.stack.redis import Redis
from ops.stack.service import Service

log = logging.getLogger("tally.faults")

INTERRUPTED = "interrupted (SIGTERM)"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STEP_PAUSE_S = 0.25
READY_TIMEOUT_S = 180.0
QUIESCE_TIMEOUT_S = 180.0
CONVERGE_TIMEOUT_S = 150.0
PRODUCE_ATTEMPTS_MAX = 60
PRODUCE_RETRY_PAUSE_S = 1.0
POLL_S = 1.0
PORT_FREE_TIMEOUT_S = 30.0  # a stopped service's port, before it is started again
PORT_FREE_POLL_S = 0.1
# What a probe may meet while the system is still starting or a fault is healing.
NOT_YET = (TopicMissing, ServiceDown, KafkaError, redis.RedisError, OSError, TimeoutError)
DEFAULT_PORTS = {"kafka": 29092, "controller": 29093, "redis": 26379}


def fault_stack_settings(
    base: Settings,
    home: Path,
    kafka_port: int = DEFAULT_PORTS["kafka"],
    controller_port: int = DEFAULT_PORTS["controller"],
    redis_port: int = DEFAULT_PORTS["redis"],
) -> Settings:
    """`base` moved to its own stack home and ports; the jar cache is shared by symlink."""
    home.mkdir(parents=True, exist_ok=True)
    shared_cache = base.stack.home.resolve() / "cache"
    if shared_cache.is_dir() and not (home / "cache").exists():
        (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    return base.model_copy(
        update={
            "stack": base.stack.model_copy(update={"home": home}),
            "kafka": base.kafka.model_copy(
                update={"port": kafka_port, "controller_port": controller_port, "heap_mb": 512}
            ),
            "redis": base.redis.model_copy(update={"port": redis_port}),
        }
    )


@dataclass
class SeedReport:
    seed: int
    size: str
    ok: bool = False
    seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)
    fault_schedule: list[dict[str, Any]] = field(default_factory=list)
    facts_sent: int = 0
    commands_sent: int = 0
    events_in_log: int = 0
    commands_in_log: int = 0
    decisions_in_log: int = 0
    pushed_deliveries: int = 0
    pushed_backwards: int = 0
    unexpected_exits: list[dict[str, Any]] = field(default_factory=list)
    divergences: list[str] = field(default_factory=list)
    error: str | None = None

    def line(self) -> str:
        faults = ",".join(f"{k}={v}" for k, v in self.faults.items() if v)
        status = "ok" if self.ok else "DIVERGED" if self.divergences else "ERROR"
        exits = len(self.unexpected_exits)
        return (
            f"seed {self.seed} [{self.size}] {status} {self.seconds:.0f}s faults: {faults or '-'}"
            f" facts={self.facts_sent} commands={self.commands_sent}"
            f" decisions={self.decisions_in_log} pushed={self.pushed_deliveries}"
            f" exits={exits} divergences={len(self.divergences)}"
        )


class Run:
    """One seed's run; `execute()` returns its report."""

    def __init__(self, plan: Plan, stack: Settings, workdir: Path) -> None:
        self.plan = plan
        self.stack = stack
        self.workdir = workdir
        nonce = uuid.uuid4().hex[:6]
        name = f"{plan.prefix}-{nonce}"
        topics = TopicSettings.named(name, stack.topics.partitions)
        self.settings = stack.model_copy(
            update={
                "topics": topics,
                "worker": stack.worker.model_copy(update={"app_id": f"tally-{name}"}),
            }
        )
        self.receiver = WebhookReceiver(WEBHOOK_SECRET)
        self.report = SeedReport(seed=plan.seed, size=plan.size.name)
        self.report.faults = plan.fault_counts()
        self.report.fault_schedule = [f.as_dict() for f in plan.faults]
        self.acked_events: set[str] = set()
        self.acked_requests: set[str] = set()
        self.client_requests: set[str] = set()
        self.phase_b_requests: set[str] = set()
        self.sent_by_step: dict[int, tuple[list[bytes], list[bytes]]] = {}
        self.policy_change_offset = 0
        self.supervisor: Supervisor | None = None
        self._producer: AIOKafkaProducer | None = None
        self._redis = redis.Redis.from_url(
            self.settings.redis.url, decode_responses=True, socket_timeout=10
        )
        self._background: list[asyncio.Task[None]] = []
        self._fatal: CrashLoop | None = None

    # --- the run ------------------------------------------------------------------------

    async def execute(self) -> SeedReport:
        started = time.monotonic()
        main = asyncio.current_task()
        assert main is not None
        # SIGTERM (a CI timeout, `kill`): stop the children this run started, then report.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
        try:
            with faust_env():
                await self._run()
        except asyncio.CancelledError:
            self.report.error = INTERRUPTED
        except Exception as error:  # a run that cannot finish is reported, not raised
            log.exception("seed %d failed", self.plan.seed)
            self.report.error = f"{type(error).__name__}: {error}"
        finally:
            await self._teardown()
            self.report.seconds = round(time.monotonic() - started, 1)
        self.report.ok = self.report.error is None and not self.report.divergences
        return self.report

    async def _run(self) -> None:
        plan = self.plan
        self._redis.flushall()
        await ensure_topics(self.settings)
        self.receiver.start()
        await self._start_producer()
        offsets = await self._send_json(self.settings.topics.policy, plan.policy_before, "kind")
        del offsets
        self.supervisor = self._supervisor()
        await asyncio.to_thread(self.supervisor.start)
        self._background.append(asyncio.create_task(self._supervise()))
        await self._send_facts(list(plan.setup_facts))
        await self._until(self._setup_committed, READY_TIMEOUT_S, "setup facts committed")
        for index in range(len(plan.steps)):
            if index == plan.phase_b_from:
                await self._heal()
                await self._until(self._phase_a_committed, QUIESCE_TIMEOUT_S, "phase A committed")
                await self._change_policy()
            await self._step(index)
            await asyncio.sleep(STEP_PAUSE_S)
        await self._heal()
        await self._converge()

    async def _step(self, index: int) -> None:
        step = self.plan.steps[index]
        self._raise_fatal()
        for fault in step.faults:
            await self._inject(fault)
        facts = list(step.facts)
        commands = [self._stamp(c, index) for c in step.commands]
        self.sent_by_step[index] = (
            [orjson.dumps(f) for f in facts],
            [orjson.dumps(c) for c in commands],
        )
        await self._send_facts(facts)
        await self._send_commands(commands)

    def _stamp(self, command: dict[str, Any], index: int) -> dict[str, Any]:
        request = command["request_id"]
        if index >= self.plan.phase_b_from and request not in self.client_requests:
            self.phase_b_requests.add(request)
        self.client_requests.add(request)
        stamped = {k: v for k, v in command.items() if v is not None}
        stamped["issued_at"] = datetime.now(UTC).isoformat()
        return stamped

    # --- faults -------------------------------------------------------------------------

    async def _inject(self, fault: Fault) -> None:
        log.info("seed %d step %d: %s", self.plan.seed, fault.step, fault.as_dict())
        supervisor = self._sup()
        if fault.kind == "kill9":
            await asyncio.to_thread(supervisor.kill_worker, fault.worker)
            await asyncio.sleep(fault.seconds)
            await asyncio.to_thread(supervisor.restart_worker, fault.worker)
        elif fault.kind == "sigstop":
            if fault.worker not in supervisor.stopped:
                await asyncio.to_thread(supervisor.sigstop, fault.worker)
                stall_s = SESSION_TIMEOUT_S + fault.seconds
                self._background.append(asyncio.create_task(self._resume(fault.worker, stall_s)))
        elif fault.kind == "kafka_restart":
            await asyncio.to_thread(self._restart, Kafka(self.settings), fault.seconds)
        elif fault.kind == "redis_restart":
            await asyncio.to_thread(self._restart, Redis(self.settings), fault.seconds)
        elif fault.kind == "redis_flush":
            self._redis.flushall()
            await resync(self.settings)  # what an operator does after losing Redis
        elif fault.kind == "pusher_kill":
            await asyncio.to_thread(supervisor.kill_pusher)
            await asyncio.sleep(fault.seconds)
            await asyncio.to_thread(supervisor.start_pusher)
        elif fault.kind == "client_resend":
            facts, commands = self.sent_by_step.get(fault.resend_step, ([], []))
            await self._send_raw(self.settings.topics.events, facts, "sku")
            await self._send_raw(self.settings.topics.commands, commands, "sku")

    async def _resume(self, worker: int, after_s: float) -> None:
        await asyncio.sleep(after_s)
        await asyncio.to_thread(self._sup().sigcont, worker)

    def _restart(self, service: Service, down_s: float) -> None:
        home = self.settings.stack.home.resolve()
        with locked(home / "run" / "stack.lock"):
            stop_services(self.settings, (service.name,), log.info)
        _wait_ports_free(service, PORT_FREE_TIMEOUT_S)
        time.sleep(down_s)
        with locked(home / "run" / "stack.lock"):
            start_services(self.settings, [service], log.info)

    async def _heal(self) -> None:
        """End every fault still in effect: resume stalled workers, restart what died."""
        supervisor = self._sup()
        for index in list(supervisor.stopped):
            await asyncio.to_thread(supervisor.sigcont, index)
        await asyncio.to_thread(supervisor.check)

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                await asyncio.to_thread(self._sup().check)
            except CrashLoop as error:
                self._fatal = error
                return

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    # --- phases -------------------------------------------------------------------------

    async def _setup_committed(self) -> bool:
        table = await read_table(self.settings)
        for fact in self.plan.setup_facts:
            state = table.get(fact["sku"])
            if state is None or fact["event_id"] not in state.seen:
                return False
        return True

    async def _phase_a_committed(self) -> bool:
        """Every command sent so far is decided in the committed table."""
        table = await read_table(self.settings)
        decided = {r for state in table.values() for r in state.decisions.ids()}
        return self.client_requests <= decided

    async def _change_policy(self) -> None:
        offsets = await self._send_json(self.settings.topics.policy, self.plan.policy_after, "kind")
        self.policy_change_offset = min(offsets)
        version = max(offsets) + 1
        await self._until(
            lambda: self._canaries_at(version), QUIESCE_TIMEOUT_S, "policy republished"
        )

    async def _canaries_at(self, policy_version: int) -> bool:
        """Each partition's canary has a figure republished under the new policy version, so
        whichever worker owns it follows the new book."""
        location = self.plan.locations[0]
        key = redis_keys.version_key("loc", location)
        for sku in self.plan.canaries:
            value = self._redis.hget(key, sku)
            if not isinstance(value, str):
                return False
            if redis_keys.FigureVersion.parse(value).policy_version < policy_version:
                return False
        return True

    async def _converge(self) -> None:
        """Poll until every comparison holds or time is up; keep the last divergences."""
        deadline = time.monotonic() + CONVERGE_TIMEOUT_S
        divergences = ["not compared yet"]
        while time.monotonic() < deadline:
            self._raise_fatal()
            try:
                divergences = await self._compare()
            except NOT_YET as error:
                divergences = [f"could not compare: {type(error).__name__}: {error}"]
            if not divergences:
                break
            await asyncio.sleep(2 * POLL_S)
        self.report.divergences = divergences

    async def _compare(self) -> list[str]:
        the_log = await check.read_log(self.settings)
        if any(state.holds for state in the_log.table.values()):
            return ["holds still pending in the table"]
        ref = check.reference(the_log, self.policy_change_offset, self.phase_b_requests)
        self.report.events_in_log = len(the_log.events)
        self.report.commands_in_log = len(the_log.commands)
        wrong = check.missing_acked(the_log, self.acked_events, self.acked_requests)
        wrong += ref.undecodable
        wrong += check.table_divergences(the_log.table, ref)
        decisions, self.report.decisions_in_log = check.decision_divergences(
            the_log, ref, self.client_requests
        )
        wrong += decisions
        wrong += check.redis_divergences(self._redis, ref)
        wrong += check.pushed_divergences(self._redis, self.plan.web, self.receiver.snapshot())
        wrong += await self._judged(the_log.table)
        self.report.pushed_deliveries = self.receiver.deliveries
        self.report.pushed_backwards = self.receiver.backwards
        return wrong

    async def _judged(self, table: dict[str, Any]) -> list[str]:
        """The independent judge's comparisons (devtools/faults/judge.py): written from
        the docs, it reads the topics itself and shares no code with the ledger."""
        topics = self.settings.topics
        names = judge_check.Topics(topics.events, topics.commands, topics.decisions, topics.policy)
        verdict, decisions = await judge_check.judge_run(
            self.settings.kafka.bootstrap, names, self.policy_change_offset, self.phase_b_requests
        )
        positions, holds = check.live_tables(table)
        wrong = judge_check.decision_divergences(verdict, decisions, self.client_requests)
        wrong += judge_check.redis_divergences(self._redis, verdict, verdict.judge.skus)
        wrong += judge_check.table_divergences(verdict, positions, holds)
        return wrong

    # --- Kafka ----------------------------------------------------------------------------

    async def _start_producer(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka.bootstrap,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=10_000,
        )
        await producer.start()
        self._producer = producer

    async def _send_facts(self, facts: Sequence[dict[str, Any]]) -> None:
        await self._send_raw(self.settings.topics.events, [orjson.dumps(f) for f in facts], "sku")
        self.acked_events |= {f["event_id"] for f in facts}
        self.report.facts_sent += len(facts)

    async def _send_commands(self, commands: Sequence[dict[str, Any]]) -> None:
        raw = [orjson.dumps(c) for c in commands]
        await self._send_raw(self.settings.topics.commands, raw, "sku")
        self.acked_requests |= {c["request_id"] for c in commands}
        self.report.commands_sent += len(commands)

    async def _send_json(
        self, topic: str, records: Sequence[dict[str, Any]], key_field: str
    ) -> list[int]:
        raw = [orjson.dumps(r) for r in records]
        keys = [f"{r['kind']}:{r.get('channel') or r.get('location')}" for r in records]
        return await self._send(topic, [(k.encode(), v) for k, v in zip(keys, raw, strict=True)])

    async def _send_raw(self, topic: str, values: Sequence[bytes], key_field: str) -> None:
        records = [(str(orjson.loads(v)[key_field]).encode(), v) for v in values]
        await self._send(topic, records)

    async def _send(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> list[int]:
        """Send in order and wait for every ack; a failed batch is re-sent whole (a client
        retry: duplicates are harmless, the ids make them so). Returns the offsets."""
        for attempt in range(PRODUCE_ATTEMPTS_MAX):
            producer = self._producer
            assert producer is not None
            try:
                futures = [await producer.send(topic, v, key=k) for k, v in records]
                results = await asyncio.wait_for(asyncio.gather(*futures), 30)
                return [r.offset for r in results]
            except (KafkaError, TimeoutError) as error:
                log.info("produce attempt %d failed (%s); retrying", attempt + 1, error)
                await asyncio.sleep(PRODUCE_RETRY_PAUSE_S)
                if attempt % 5 == 4:  # a producer stuck after a broker restart: a fresh one
                    await producer.stop()
                    await self._start_producer()
        raise RuntimeError(f"could not produce to {topic} in {PRODUCE_ATTEMPTS_MAX} attempts")

    # --- plumbing -------------------------------------------------------------------------

    def _supervisor(self) -> Supervisor:
        workers = []
        for index in range(2):
            workers.append(
                self.settings.model_copy(
                    update={
                        "worker": self.settings.worker.model_copy(
                            update={
                                "data_dir": self.workdir / f"worker-{index}",
                                "web_port": _free_port(),
                                "metrics_port": _free_port(),
                            }
                        )
                    }
                )
            )
        pusher = PusherSettings(
            metrics_port=_free_port(),
            consumer="faults-1",
            read_block_ms=200,
            coalesce_window_s=0.02,
            http_timeout_s=5.0,
            attempts_max=20,
            backoff_base_s=0.05,
            backoff_max_s=1.0,
            webhook_url=self.receiver.url,
            webhook_secret=SecretStr(WEBHOOK_SECRET),
            webhook_figures_per_request_max=20,
        )
        pusher_settings = self.settings.model_copy(update={"pusher": pusher})
        return Supervisor(workers, pusher_settings, self.plan.web, self.workdir)

    def _sup(self) -> Supervisor:
        assert self.supervisor is not None
        return self.supervisor

    async def _until(self, probe: Callable[[], Any], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._raise_fatal()
            try:
                if await probe():
                    return
            except NOT_YET as error:  # a topic not created yet, a broker restarting
                log.info("%s: not yet (%s)", what, error)
            await asyncio.sleep(POLL_S)
        raise TimeoutError(f"{what}: not within {timeout_s:g}s")

    async def _teardown(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self.supervisor is not None:
            self.report.unexpected_exits = [e.as_dict() for e in self.supervisor.exits]
            await asyncio.to_thread(self.supervisor.stop)
        if self._producer is not None:
            await self._producer.stop()
        self.receiver.stop()
        self._redis.close()


def _wait_ports_free(service: Service, timeout_s: float) -> None:
    """Until nothing listens on the stopped service's ports any more: starting it again on a
    port still held failed the run ("redis: port ... already in use", "exited before it was
    ready") when the seeded down time was short."""
    deadline = time.monotonic() + timeout_s
    for host, port, _ in service.ports:
        while port_in_use(host, port):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{service.name}: port {port} still in use {timeout_s:g}s after stop"
                )
            time.sleep(PORT_FREE_POLL_S)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_seed(seed: int, size: Size, stack: Settings, workdir: Path) -> SeedReport:
    """Run one seed on the fault stack (already up); its files go under `workdir`."""
    plan = build_plan(seed, size, stack.topics.partitions)
    workdir.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(Run(plan, stack, workdir).execute())
    if report.ok:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


__all__ = ["FAULT_KINDS", "SeedReport", "fault_stack_settings", "run_seed"]
