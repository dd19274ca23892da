"""Run one seed: start the processes, play the plan with its faults, heal, then compare the
table, the decisions, the answers clients got, Redis and the pushed figures with both
judges: the ledger's own fold of the log (`check`) and the independent one (`judge`).

Everything runs on the fault stack (devtools/faults/stack.py): its own stack home and
ports, never the shared stack, because a run kills and restarts Kafka and Redis.
Part of the workload goes through the HTTP gateway (devtools/faults/gateway.py), the rest
straight to Kafka; the workers reach the brokers through relays the run can disturb.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import redis
from aiokafka.errors import KafkaError

from base import redis_keys
from base.settings import Settings, TopicSettings
from base.topics import ensure_topics
from connectors.inspect.errors import ServiceDown
from connectors.inspect.kafka_read import TopicMissing, read_table
from devtools.faults import check, judge_check, stack
from devtools.faults.gateway import Gateway
from devtools.faults.inject import Injector
from devtools.faults.plan import FAULT_KINDS, FaultKind, Plan, Size, build_plan
from devtools.faults.procs import (
    WEBHOOK_SECRET,
    CrashLoop,
    Supervisor,
    WebhookReceiver,
    faust_env,
    supervisor,
)
from devtools.faults.producer import Producer
from devtools.faults.relay import Relay
from devtools.faults.report import SeedReport

log = logging.getLogger("tally.faults")

INTERRUPTED = "interrupted (SIGTERM)"

STEP_PAUSE_S = 0.25
READY_TIMEOUT_S = 180.0
QUIESCE_TIMEOUT_S = 180.0
CONVERGE_TIMEOUT_S = 150.0
POLL_S = 1.0
TASK_DUMP_WAIT_S = 2.0  # for the workers to log their task dumps (SIGUSR1)
# What a probe may meet while the system is still starting or a fault is healing.
NOT_YET = (TopicMissing, ServiceDown, KafkaError, redis.RedisError, OSError, TimeoutError)


class Run:
    """One seed's run; `execute()` returns its report."""

    def __init__(self, plan: Plan, stack_settings: Settings, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        name = f"{plan.prefix}-{uuid.uuid4().hex[:6]}"
        self.name = name  # every topic of the run (the worker's own too) carries it
        topics = TopicSettings.named(name, stack_settings.topics.partitions)
        worker = stack_settings.worker.model_copy(update={"app_id": f"tally-{name}"})
        self.settings = stack_settings.model_copy(update={"topics": topics, "worker": worker})
        self.receiver = WebhookReceiver(WEBHOOK_SECRET)
        self.report = SeedReport(
            seed=plan.seed,
            size=plan.size.name,
            brokers=plan.brokers,
            faults=plan.fault_counts(),
            fault_schedule=[f.as_dict() for f in plan.faults],
        )
        self.acked_events: set[str] = set()
        self.acked_requests: set[str] = set()
        self.client_requests: set[str] = set()
        self.phase_b_requests: set[str] = set()
        self.sent_by_step: dict[int, tuple[list[bytes], list[bytes]]] = {}
        self.policy_change_offset = 0
        self.producer = Producer(self.settings.kafka.bootstrap)
        self.gateway = Gateway(self.settings, workdir, (plan.web, plan.pos))
        self.relays: list[Relay] = stack.relays(self.settings)
        self.supervisor: Supervisor | None = None
        self.injector: Injector | None = None
        self._redis = redis.Redis.from_url(
            self.settings.redis.url, decode_responses=True, socket_timeout=10
        )
        self._watch: asyncio.Task[None] | None = None
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
            if isinstance(error, TimeoutError):
                await self._dump_worker_tasks()  # a stall
        finally:
            await self._teardown()
            self.report.seconds = round(time.monotonic() - started, 1)
        self.report.ok = self.report.error is None and not self.report.divergences
        return self.report

    async def _run(self) -> None:
        plan = self.plan
        await self._start()
        await self._send_facts(list(plan.setup_facts), over_http=False)
        await self._until(self._setup_committed, READY_TIMEOUT_S, "setup facts committed")
        for index in range(len(plan.steps)):
            if index == plan.phase_b_from:
                await self._injected().heal()
                await self._until(self._phase_a_committed, QUIESCE_TIMEOUT_S, "phase A committed")
                await self._change_policy()
            await self._step(index)
            await asyncio.sleep(STEP_PAUSE_S)
        await self._injected().heal()
        await self._converge()

    async def _start(self) -> None:
        await asyncio.to_thread(self._redis.flushall)
        await ensure_topics(self.settings)
        self.receiver.start()
        for relay in self.relays:
            relay.start()
        await self.producer.start()
        await self.producer.send_policy(self.settings.topics.policy, self.plan.policy_before)
        await asyncio.to_thread(self.gateway.start)
        self.supervisor = supervisor(
            stack.worker_settings(self.settings), self.plan.web, self.receiver.url, self.workdir
        )
        await asyncio.to_thread(self.supervisor.start)
        self.injector = Injector(
            self.settings, self.supervisor, self.gateway, self.relays, self._redis, self._resend
        )
        self._watch = asyncio.create_task(self._supervise())

    async def _step(self, index: int) -> None:
        step = self.plan.steps[index]
        self._raise_fatal()
        for fault in step.faults:
            await self._injected().inject(fault)
        facts = list(step.facts)
        commands = [self._stamp(c, index) for c in step.commands]
        self.sent_by_step[index] = (
            [orjson.dumps(f) for f in facts],
            [orjson.dumps(c) for c in commands],
        )
        await self._send_facts(facts, over_http=step.facts_over_http)
        await self._send_commands(commands, over_http=step.commands_over_http)

    def _stamp(self, command: dict[str, Any], index: int) -> dict[str, Any]:
        request = command["request_id"]
        if index >= self.plan.phase_b_from and request not in self.client_requests:
            self.phase_b_requests.add(request)
        self.client_requests.add(request)
        stamped = {k: v for k, v in command.items() if v is not None}
        if command["type"] != "reserve":
            # The hold's channel asks, as the gateway puts a channel key's channel on it: a
            # request is the same request whichever way it is sent (and re-sent).
            stamped["channel"] = self.plan.hold_channels.get(command["hold_id"], self.plan.web)
        stamped["issued_at"] = datetime.now(UTC).isoformat()
        return stamped

    async def _resend(self, step: int) -> None:
        """client_resend: an earlier step's records again, byte for byte, to Kafka."""
        facts, commands = self.sent_by_step.get(step, ([], []))
        await self.producer.send_keyed(self.settings.topics.events, facts, "sku")
        await self.producer.send_keyed(self.settings.topics.commands, commands, "sku")

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

    # --- sending ----------------------------------------------------------------------------

    async def _send_facts(self, facts: Sequence[dict[str, Any]], *, over_http: bool) -> None:
        if over_http and facts:
            await self.gateway.post_facts(list(facts))
            self.report.facts_over_http += len(facts)
        else:
            raw = [orjson.dumps(f) for f in facts]
            await self.producer.send_keyed(self.settings.topics.events, raw, "sku")
        self.acked_events |= {f["event_id"] for f in facts}
        self.report.facts_sent += len(facts)

    async def _send_commands(self, commands: Sequence[dict[str, Any]], *, over_http: bool) -> None:
        if over_http:
            for command in commands:  # one at a time, each waiting for its answer
                await self.gateway.send_command(command)
            self.report.commands_over_http += len(commands)
        else:
            raw = [orjson.dumps(c) for c in commands]
            await self.producer.send_keyed(self.settings.topics.commands, raw, "sku")
        self.acked_requests |= {c["request_id"] for c in commands}
        self.report.commands_sent += len(commands)

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
        offsets = await self.producer.send_policy(
            self.settings.topics.policy, self.plan.policy_after
        )
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
        if divergences:
            # a worker that stopped taking records (seed 43: alive, in the group, idle after
            # a failed fetch) shows where it waits only while it runs
            await self._dump_worker_tasks()

    async def _dump_worker_tasks(self) -> None:
        """Where each running worker's tasks wait, in its log, before the run stops them."""
        if self.supervisor is not None:
            self.supervisor.dump_tasks()
            await asyncio.sleep(TASK_DUMP_WAIT_S)

    async def _compare(self) -> list[str]:
        """Both judges, each comparison they make; empty when everything agrees."""
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
        wrong += check.answer_divergences(ref, self.gateway.answers)
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
        self.report.answers_checked = sum(len(a) for a in self.gateway.answers.values())
        wrong = judge_check.decision_divergences(verdict, decisions, self.client_requests)
        wrong += judge_check.answer_divergences(verdict, self.gateway.answers)
        wrong += judge_check.redis_divergences(self._redis, verdict, verdict.judge.skus)
        wrong += judge_check.table_divergences(verdict, positions, holds)
        return wrong

    # --- plumbing -------------------------------------------------------------------------

    def _sup(self) -> Supervisor:
        assert self.supervisor is not None
        return self.supervisor

    def _injected(self) -> Injector:
        assert self.injector is not None
        return self.injector

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
        if self._watch is not None:
            self._watch.cancel()
        if self.injector is not None:
            self.injector.cancel()
            await asyncio.gather(*self.injector.background, return_exceptions=True)
            await self.injector.heal_stack()
        if self.supervisor is not None:
            self.report.unexpected_exits = [e.as_dict() for e in self.supervisor.exits]
            await asyncio.to_thread(self.supervisor.stop)
        await asyncio.to_thread(self.gateway.stop)
        self.report.http_statuses = dict(self.gateway.statuses)
        self.report.relay_drops = sum(relay.dropped for relay in self.relays)
        self.report.repairs_logged = repairs_logged(self.workdir.glob("worker-*.log"))
        for relay in self.relays:
            relay.stop()
        await self.producer.stop()
        self.receiver.stop()
        self._redis.close()


# What the workers' watches log when they step in (processors/faust_repairs): a seed that
# converged only thanks to one is still worth knowing about.
REPAIR_LINES = {
    "starved_nudge": "starved: ",
    "starved_restart": "still starved after a nudge",
    "acks_filled": "acks Faust lost on",
    "undelivered_restart": "records never delivered on",
    "hole_seek": "hole in ",
    "store_rebuilt": "held writes of a transaction that never committed",
    "transaction_committed": "open through a rebalance",
}


def repairs_logged(logs: Iterable[Path]) -> dict[str, int]:
    """How often each watch stepped in, over the given worker logs (kinds never seen left out)."""
    counts: Counter[str] = Counter()
    for path in logs:
        with path.open(errors="replace") as lines:
            for line in lines:
                counts.update(kind for kind, mark in REPAIR_LINES.items() if mark in line)
    return dict(sorted(counts.items()))


def run_seed(
    seed: int,
    size: Size,
    stack_settings: Settings,
    workdir: Path,
    kinds: tuple[FaultKind, ...] = FAULT_KINDS,
) -> SeedReport:
    """Run one seed on the fault stack (already up); its files go under `workdir`."""
    plan = build_plan(
        seed, size, stack_settings.topics.partitions, stack_settings.kafka.brokers, kinds
    )
    workdir.mkdir(parents=True, exist_ok=True)
    run = Run(plan, stack_settings, workdir)
    report = asyncio.run(run.execute())
    if report.ok:  # a failed seed keeps its logs and its topics, to be looked into
        shutil.rmtree(workdir, ignore_errors=True)
        asyncio.run(stack.delete_topics(stack_settings, run.name))
    return report


__all__ = ["FAULT_KINDS", "SeedReport", "run_seed"]
