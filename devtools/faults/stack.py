"""The fault runs' own stack: Kafka (one broker or a cluster) and Redis under a home and ports
of their own, never the shared stack, because a run kills, stops and flushes them.

Each broker has one more listener here, `FAULTS`, that advertises a relay's port: workers
bootstrap through the relays (devtools/faults/relay.py), so the network between them and
the brokers can be delayed, stalled and dropped while everyone else talks to the brokers
directly. Node n's FAULTS listener is on kafka.port + LISTENER_OFFSET + 2(n-1), its relay
on kafka.port + RELAY_OFFSET + 2(n-1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from base.settings import Settings
from devtools.faults.relay import Relay
from ops.stack.control import start_services, stop_services
from ops.stack.kafka import Kafka
from ops.stack.procs import Echo, kill_hard, locked, our_pid, port_in_use
from ops.stack.redis import Redis
from ops.stack.service import Service

log = logging.getLogger("tally.faults")

LISTENER_OFFSET = 100
RELAY_OFFSET = 200
PORT_FREE_TIMEOUT_S = 30.0  # a stopped service's port, before it is started again
PORT_FREE_POLL_S = 0.1
DEFAULT_PORTS = {"kafka": 29092, "controller": 29093, "redis": 26379}


def fault_stack_settings(
    base: Settings,
    home: Path,
    kafka_port: int = DEFAULT_PORTS["kafka"],
    controller_port: int = DEFAULT_PORTS["controller"],
    redis_port: int = DEFAULT_PORTS["redis"],
    brokers: int = 1,
) -> Settings:
    """`base` moved to its own stack home and ports; the jar cache is shared by symlink."""
    home.mkdir(parents=True, exist_ok=True)
    shared_cache = base.stack.home.resolve() / "cache"
    if shared_cache.is_dir() and not (home / "cache").exists():
        (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    kafka = {"port": kafka_port, "controller_port": controller_port, "heap_mb": 512}
    return base.model_copy(
        update={
            "stack": base.stack.model_copy(update={"home": home}),
            "kafka": base.kafka.model_copy(update={**kafka, "brokers": brokers}),
            "redis": base.redis.model_copy(update={"port": redis_port}),
        }
    )


def faults_ports(settings: Settings, node: int) -> tuple[int, int]:
    """(the node's FAULTS listener, its relay's port)."""
    step = settings.kafka.PORT_STEP * (node - 1)
    return settings.kafka.port + LISTENER_OFFSET + step, settings.kafka.port + RELAY_OFFSET + step


class FaultKafka(Kafka):
    """A node of the fault stack: the stack's broker plus the FAULTS listener."""

    @property
    def ports(self) -> tuple[tuple[str, int, str], ...]:
        listen, _ = faults_ports(self.settings, self.node)
        return (*super().ports, (self.settings.kafka.host, listen, "--kafka-port"))

    def has_relay_listener(self) -> bool:
        """Whether the running broker (if any) was started with this node's FAULTS listener."""
        try:
            written = self.config_file.read_text()
        except FileNotFoundError:
            return False
        return (
            f"FAULTS://{self.settings.kafka.host}:{faults_ports(self.settings, self.node)[1]}"
            in written
        )

    def properties(self) -> str:
        host = self.settings.kafka.host
        listen, relay = faults_ports(self.settings, self.node)
        lines = super().properties().splitlines()
        extra = {
            "listeners": f",FAULTS://{host}:{listen}",
            "advertised.listeners": f",FAULTS://{host}:{relay}",
            "listener.security.protocol.map": ",FAULTS:PLAINTEXT",
        }
        out = []
        for line in lines:
            key = line.partition("=")[0]
            out.append(line + extra.get(key, ""))
        return "\n".join(out) + "\n"


def services(settings: Settings) -> list[Service]:
    kafka: list[Service] = [FaultKafka(settings, n) for n in range(1, settings.kafka.brokers + 1)]
    return [*kafka, Redis(settings)]


def up(settings: Settings, echo: Echo) -> None:
    """Start the fault stack (whatever of it is not running) and wait until it is ready.
    A broker left running without the FAULTS listener (started by `tally up`) is
    restarted with it."""
    with _locked(settings):
        for service in services(settings):
            if isinstance(service, FaultKafka) and not service.has_relay_listener():
                stop_services(settings, (service.name,), echo)
        for service in services(settings):
            if our_pid(service.files) is None:  # a stack just stopped may hold its ports
                wait_ports_free(service, PORT_FREE_TIMEOUT_S)
        start_services(settings, services(settings), echo)


def worker_settings(settings: Settings) -> Settings:
    """`settings` for a worker: Kafka through the relays (node n's relay on relay + 2(n-1))."""
    _, relay = faults_ports(settings, 1)
    kafka = settings.kafka.model_copy(update={"port": relay, "controller_port": relay + 1})
    return settings.model_copy(update={"kafka": kafka})


def relays(settings: Settings) -> list[Relay]:
    """One relay per node, not started."""
    pairs = [faults_ports(settings, n) for n in range(1, settings.kafka.brokers + 1)]
    return [Relay(relay, listen) for listen, relay in pairs]


def node(settings: Settings, index: int) -> FaultKafka:
    """The node a fault names by index (0-based, wrapped to the cluster)."""
    return FaultKafka(settings, index % settings.kafka.brokers + 1)


def restart(settings: Settings, service: Service, down_s: float, echo: Echo) -> None:
    """Stop (SIGTERM, as an operator would), wait `down_s`, start again."""
    with _locked(settings):
        stop_services(settings, (service.name,), echo)
    wait_ports_free(service, PORT_FREE_TIMEOUT_S)
    time.sleep(down_s)
    start(settings, service, echo)


def kill(settings: Settings, service: Service) -> None:
    """kill -9: no shutdown, no flush (the stack's pid file goes with it)."""
    with _locked(settings):
        kill_hard(service.files)


def start(settings: Settings, service: Service, echo: Echo) -> None:
    wait_ports_free(service, PORT_FREE_TIMEOUT_S)
    with _locked(settings):
        start_services(settings, [service], echo)


def wait_ports_free(service: Service, timeout_s: float) -> None:
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


async def delete_topics(settings: Settings, name: str) -> None:
    """Delete a finished run's topics (`{name}.events`, `tally-{name}-...`): a broker
    holding every earlier run's partitions recovers ever slower after a kill -9."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if name in t]
        if ours:
            await admin.delete_topics(ours)
    except KafkaError as error:  # cleaning up is best effort
        log.warning("could not delete the topics of %s: %s", name, error)
    finally:
        await admin.close()


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    with locked(settings.stack.home.resolve() / "run" / "stack.lock"):
        yield
