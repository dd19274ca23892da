"""One typed settings object for every Tally process.

Read from the environment with the `TALLY_` prefix, nested with `__`
(e.g. `TALLY_KAFKA__PORT=19092`). Importing this module reads nothing: call
`get_settings()` (processes) or construct `Settings(...)` explicitly (tests).
Every bound is explicit and validated here, at the edge.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
SESSION_TIMEOUT_S_MAX = 90.0  # faust-streaming's broker_request_timeout, which bounds it
GROUP_INSTANCE_ID_PATTERN = r"^[A-Za-z0-9._-]{1,249}$"  # what Kafka takes for a group member


class StackSettings(BaseModel):
    """Where the local stack keeps its jars, data and logs (one ignored folder)."""

    home: Path = Field(default=REPO_ROOT / ".tally", description="logs, data and the jar cache")
    start_timeout_s: float = Field(default=120.0, gt=0, le=600)
    stop_timeout_s: float = Field(default=30.0, gt=0, le=300)
    # One readiness probe (e.g. the Kafka produce+consume round trip) gives up after this long.
    probe_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Lines of a service's log quoted in a start failure.
    log_tail_lines: int = Field(default=20, ge=1, le=1_000)
    healthcheck_topic: str = Field(default="tally.healthcheck", min_length=1, max_length=249)


class KafkaSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=9092, ge=1, le=65535)
    controller_port: int = Field(default=9093, ge=1, le=65535)
    version: str = Field(default="4.1.2", pattern=r"^\d+\.\d+\.\d+$")
    heap_mb: int = Field(default=1024, ge=256, le=8192)
    # A real deployment: SASL/SCRAM over TLS, one principal per process kind (gateway, worker,
    # orders, pusher) with its own ACLs (docs/OPERATING.md, Security). PLAINTEXT is the
    # local dev stack's, on loopback only.
    security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str = Field(default="", max_length=256)
    sasl_password: SecretStr = SecretStr("")
    # The CA that signed the brokers' certificates (PEM); empty: the system's CAs.
    ssl_cafile: Path | None = None
    # Brokers of the local stack (`tally up --brokers 3`: a KRaft cluster on loopback, every
    # node broker and controller). Node n listens on port + PORT_STEP*(n-1) and
    # controller_port + PORT_STEP*(n-1); every client bootstraps from all of them.
    brokers: int = Field(default=1, ge=1, le=9)
    PORT_STEP: ClassVar[int] = 2

    @model_validator(mode="after")
    def _credentials_for_sasl(self) -> KafkaSettings:
        if self.security_protocol == "SASL_SSL" and not (
            self.sasl_username and self.sasl_password.get_secret_value()
        ):
            raise ValueError(
                "TALLY_KAFKA__SECURITY_PROTOCOL=SASL_SSL needs TALLY_KAFKA__SASL_USERNAME and "
                "TALLY_KAFKA__SASL_PASSWORD"
            )
        return self

    @model_validator(mode="after")
    def _ports_distinct(self) -> KafkaSettings:
        ports = [port for pair in self.node_ports() for port in pair]
        if len(set(ports)) != len(ports) or max(ports) > 65535:
            raise ValueError(f"kafka: the brokers' ports {ports} overlap or pass 65535")
        return self

    def node_ports(self) -> list[tuple[int, int]]:
        """(client port, controller port) of each node, node 1 first."""
        step = self.PORT_STEP
        return [
            (self.port + step * n, self.controller_port + step * n) for n in range(self.brokers)
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{self.host}:{port}" for port, _ in self.node_ports())


# The local dev stack's Redis password (`tally up` binds that Redis to loopback only). It is
# no default: a Tally process uses it only for a Redis on this host's loopback, and one whose
# Redis is anywhere else refuses to start without TALLY_REDIS__PASSWORD.
LOCAL_DEV_REDIS_PASSWORD = "tally-local-dev"
LOCAL_DEV_REDIS_READER_PASSWORD = "tally-local-reader"  # its read-only channel reader's
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether `host` names this host's loopback (127.0.0.0/8, ::1, localhost)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() in _LOOPBACK_NAMES


class RedisSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=6379, ge=1, le=65535)
    # Empty: the local dev stack's password (LOCAL_DEV_REDIS_PASSWORD), for a Redis on this
    # host's loopback only; anywhere else it must be set.
    password: SecretStr = SecretStr("")
    db: int = Field(default=0, ge=0, le=15)
    socket_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # A read-only Redis user for channels that read their figures (availability hashes,
    # versions, change streams) and nothing else; the local stack creates it (ACL), a
    # deployment creates it with `ACL SETUSER` (docs/OPERATING.md, Security). Empty
    # password: the local stack's (LOCAL_DEV_REDIS_READER_PASSWORD).
    reader_username: str = Field(default="tally-reader", pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    reader_password: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _password_outside_the_local_stack(self) -> RedisSettings:
        if not self.password.get_secret_value() and not is_loopback(self.host):
            raise ValueError(
                f"TALLY_REDIS__PASSWORD is empty and Redis at {self.host}:{self.port} is not on "
                "this host's loopback: the local dev stack's password is never used there; set "
                "the password of that Redis"
            )
        return self

    def secret(self) -> str:
        """The password to send: the one set, else the local dev stack's (loopback only)."""
        return self.password.get_secret_value() or LOCAL_DEV_REDIS_PASSWORD

    def reader_secret(self) -> str:
        return self.reader_password.get_secret_value() or LOCAL_DEV_REDIS_READER_PASSWORD

    @property
    def url(self) -> str:
        password = quote(self.secret(), safe="")
        return f"redis://:{password}@{self.host}:{self.port}/{self.db}"


class PrometheusSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=9090, ge=1, le=65535)
    scrape_interval_s: float = Field(default=1.0, gt=0, le=60)


class TopicSettings(BaseModel):
    """Wire-contract topic names (v1). Tests may add a prefix for isolation."""

    events: str = "tally.events"
    commands: str = "tally.commands"
    decisions: str = "tally.decisions"
    policy: str = "tally.policy"
    dlq: str = "tally.dlq"
    orders: str = "tally.orders"
    capacity: str = "tally.capacity"
    partitions: int = Field(default=4, ge=1, le=256)
    # Copies of every partition, and how many must have a write before it is acknowledged
    # (acks=all). None: 3 and 2 on a cluster of 3 or more brokers, else 1 and 1 (the
    # single-broker dev stack keeps one copy). `replication_for(settings)` resolves them.
    replication_factor: int | None = Field(default=None, ge=1, le=9)
    min_insync_replicas: int | None = Field(default=None, ge=1, le=9)

    @classmethod
    def named(cls, prefix: str, partitions: int) -> TopicSettings:
        """Topics of their own, `{prefix}.events` etc. (tests, bench and fault runs)."""
        return cls(
            events=f"{prefix}.events",
            commands=f"{prefix}.commands",
            decisions=f"{prefix}.decisions",
            policy=f"{prefix}.policy",
            dlq=f"{prefix}.dlq",
            orders=f"{prefix}.orders",
            capacity=f"{prefix}.capacity",
            partitions=partitions,
        )

    def replication(self, brokers: int) -> tuple[int, int]:
        """(replication factor, min in-sync replicas) on a cluster of `brokers`."""
        factor = self.replication_factor or min(3, brokers)
        insync = self.min_insync_replicas or (2 if factor >= 3 else 1)
        return factor, min(insync, factor)


class WorkerSettings(BaseModel):
    app_id: str = Field(default="tally", min_length=1, max_length=64)
    data_dir: Path = Field(default=REPO_ROOT / ".tally" / "worker-data")
    # The addresses its Faust web server and its metrics listen on (loopback: in a container,
    # 0.0.0.0, published on the host's loopback only; docker-compose.yml).
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9108, ge=1, le=65535)
    # Kafka transactions: a batch's table writes and its offsets commit together (README,
    # Delivery guarantees). at_least_once + idempotent folds is the faster alternative.
    processing_guarantee: Literal["exactly_once", "at_least_once"] = "exactly_once"
    # A batch is what has arrived when the worker asks (no fixed wait), at most this many
    # records and about this many bytes (processors.pipeline).
    # (2,000 starved at_least_once commits, which run in Faust's consumer thread, at a load
    # average of 12: commits took 11-20 s; 1,000 costs the same CPU per record.)
    take_batch_max: int = Field(default=1_000, ge=1, le=10_000)
    take_batch_bytes_max: int = Field(default=4 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    # Batches folded while earlier ones still wait for their changelog acks and Redis.
    pipeline_depth: int = Field(default=2, ge=1, le=8)
    # The fetched records waiting for the batch loop, at most (the fetch waits beyond).
    inbox_records_max: int = Field(default=4_000, ge=100, le=1_000_000)
    # How long one fetch may wait at the broker for records (the long poll; Faust fixes
    # 1,500 ms). The consumer has one fetch in flight per broker, and one that names only
    # partitions without records (the changelogs, the assignor's topic) holds up every
    # source partition emptied meanwhile (processors/faust_repairs/fetch_wait.py). An idle
    # worker sends a fetch this often.
    fetch_wait_max_ms: int = Field(default=10, ge=1, le=1_500)
    # The event loop of both the worker's threads (the batch loop, Faust's consumer thread):
    # uvloop (libuv) or the standard library's. docs/BENCHMARKS.md has what each costs.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # A changelog partition at least this many records behind at recovery is read in bulk
    # into the local store before Faust's own (per-record) recovery goes on from there.
    # 1: every partition behind. An exactly-once changelog ends in a transaction marker (an
    # abort's, after a crash), which Faust's own path waits 10 s for (two 5 s idle spells
    # before `detect_aborted_tx`); the bulk read passes it in one fetch.
    bulk_restore_records_min: int = Field(default=1, ge=1, le=1_000_000_000)
    hold_expiry_tick_s: float = Field(default=0.5, gt=0, le=60)
    # How often Faust commits offsets (and, with exactly_once, each partition's Kafka
    # transaction: three round trips per partition, while its changelog sends wait). 1.0 s
    # gave a lower p99 than 0.2 s at a trickle, 25 % and 50 % load (docs/BENCHMARKS.md,
    # fourteenth session); a crash replays at most this much more work.
    commit_interval_s: float = Field(default=1.0, gt=0, le=30)
    # A partition processed but not committed for this long is a stalled commit
    # (faust-streaming #596): the worker restarts and replays from the committed offset. An
    # offsets commit in flight this long while batches still come has hung: restarted too.
    commit_stall_s: float = Field(default=15.0, ge=1, le=600)
    # An assigned partition with records waiting and none processed for this long is nudged
    # (sought back); still starved as long again, the worker restarts and replays.
    starved_s: float = Field(default=30.0, ge=5, le=600)
    # How long a starting worker waits for Kafka (a broker restart) before giving up.
    broker_wait_s: float = Field(default=300.0, ge=0, le=3_600)
    # How often the worker's consumer refreshes the cluster metadata (Kafka's default: 5 min).
    # A group assignment made while a restarting broker still reported the topics missing
    # leaves every worker with no partitions until a refresh shows them to the group leader
    # (fault seed 45 sat idle for the runner's whole 180 s wait); this bounds that spell.
    metadata_max_age_s: float = Field(default=30.0, ge=1, le=300)
    # Decoded SKU states kept in memory between batches (least recently used out).
    state_cache_skus_max: int = Field(default=100_000, ge=0, le=10_000_000)
    # A worker that dies (kill -9) holds its partitions until its session times out: this
    # bounds how long a restarted or surviving worker waits before taking them over. At most
    # Faust's broker_request_timeout (90 s): its consumer refuses a longer one at start.
    session_timeout_s: float = Field(default=10.0, ge=6, le=SESSION_TIMEOUT_S_MAX)
    # Kafka's group.instance.id (static membership): a worker restarted with the same id takes
    # its partitions back at once instead of after the session timeout; stopped for good, it
    # holds them that long. One id per worker, kept across its restarts; None: dynamic.
    group_instance_id: str | None = Field(default=None, pattern=GROUP_INSTANCE_ID_PATTERN)
    # A crashed worker restarts itself in place this many times in a row (0: never, leave it
    # to a supervisor such as systemd or Kubernetes).
    crash_restarts_max: int = Field(default=5, ge=0, le=100)
    heartbeat_interval_s: float = Field(default=2.0, gt=0, le=60)
    # The table's changelog producer: bytes per partition batch (Faust's default, 16 KiB,
    # split one batch's writes into dozens of produce round trips). At most the broker's
    # message.max.bytes (1 MiB by default) less headroom.
    producer_batch_bytes_max: int = Field(default=512 * 1024, ge=16 * 1024, le=960 * 1024)
    changes_stream_len_max: int = Field(default=100_000, ge=100, le=10_000_000)
    # Stranded stock (docs/KPIS.md): (channel, SKU) pairs this worker tracks in memory for the
    # gauges (past it, new pairs are not counted), and the top SKUs kept per channel in Redis.
    stranded_tracked_max: int = Field(default=200_000, ge=0, le=10_000_000)
    stranded_top_skus: int = Field(default=1_000, ge=1, le=100_000)
    # Days of availability by date published per SKU with supply incoming (docs/PROMISE.md);
    # the gateway answers `?by=` up to this many days ahead.
    atp_horizon_days: int = Field(default=15, ge=1, le=60)


class OrdersSettings(BaseModel):
    """The order processor (`python -m processors.orders`, docs/ORDERS.md)."""

    app_id: str = Field(default="tally-orders", min_length=1, max_length=64)
    data_dir: Path = Field(default=REPO_ROOT / ".tally" / "orders-data")
    web_host: str = "127.0.0.1"  # as the worker's
    web_port: int = Field(default=6067, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9110, ge=1, le=65535)
    # Its outputs are idempotent asks, sent and acknowledged before the order's state is
    # written: at_least_once is safe, and exactly_once would hold every ask back a commit.
    processing_guarantee: Literal["exactly_once", "at_least_once"] = "at_least_once"
    take_batch_max: int = Field(default=500, ge=1, le=10_000)
    take_within_s: float = Field(default=0.005, gt=0, le=5)
    commit_interval_s: float = Field(default=0.2, gt=0, le=30)
    # Pending holds of an order in progress expire after this long if the processor dies.
    hold_ttl_s: int = Field(default=900, ge=60, le=86_400)
    rounds_max: int = Field(default=3, ge=1, le=3)  # ledger.limits.ORDER_ROUNDS_MAX
    reroutes_max: int = Field(default=3, ge=0, le=5)  # ledger.limits.ORDER_REROUTES_MAX
    # No answer for this long (doubling per try): ask again; after ask_retries_max tries, a
    # reserve or capacity ask is given up (released) and the line re-planned.
    ask_timeout_s: float = Field(default=5.0, ge=0.5, le=300)
    ask_retries_max: int = Field(default=3, ge=1, le=20)
    timeout_check_s: float = Field(default=1.0, gt=0, le=60)
    changes_stream_len_max: int = Field(default=100_000, ge=100, le=10_000_000)
    # Order views kept in Redis this long after their last change (0: for ever).
    view_ttl_s: int = Field(default=30 * 86_400, ge=0, le=366 * 86_400)
    # The faust-streaming repairs' bounds (as the stream worker's).
    commit_stall_s: float = Field(default=15.0, ge=1, le=600)
    fetch_wait_max_ms: int = Field(default=10, ge=1, le=1_500)
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"  # as the worker's
    starved_s: float = Field(default=30.0, ge=5, le=600)
    crash_restarts_max: int = Field(default=5, ge=0, le=100)
    session_timeout_s: float = Field(default=10.0, ge=6, le=SESSION_TIMEOUT_S_MAX)
    group_instance_id: str | None = Field(default=None, pattern=GROUP_INSTANCE_ID_PATTERN)
    heartbeat_interval_s: float = Field(default=2.0, gt=0, le=60)
    broker_wait_s: float = Field(default=300.0, ge=0, le=3_600)
    metadata_max_age_s: float = Field(default=30.0, ge=1, le=300)


class GatewaySettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    batch_events_max: int = Field(default=1_000, ge=1, le=100_000)
    payload_bytes_max: int = Field(default=1_048_576, ge=1_024, le=64 * 1_048_576)
    # The whole header section (names + values); over it: 431.
    header_bytes_max: int = Field(default=16_384, ge=1_024, le=1_048_576)
    hold_wait_timeout_s: float = Field(default=5.0, gt=0, le=60)
    requests_per_s_per_key_max: float = Field(default=1_000.0, gt=0)
    # Token bucket size per key: a burst of this many requests, then the rate above.
    requests_burst_per_key_max: int = Field(default=200, ge=1, le=100_000)
    # API keys: JSON list of {key_id, sha256, role, locations?}; re-read when it changes.
    keys_file: Path = Field(default=REPO_ROOT / ".tally" / "gateway-keys.json")
    keys_reload_s: float = Field(default=2.0, gt=0, le=3_600)
    # Hold requests waiting for their decision at once (one gateway process); 503 past it.
    hold_waiters_max: int = Field(default=10_000, ge=1, le=1_000_000)
    # Orders: a CSV of postal_code,latitude,longitude for `ship_to_postal_code` deliveries.
    postal_codes_file: Path | None = None
    # SKUs in one batch availability read.
    availability_skus_max: int = Field(default=100, ge=1, le=10_000)
    # GET /v1/locations/{sku}: location keys found by SCAN (cached), and for how long.
    location_keys_max: int = Field(default=10_000, ge=1, le=1_000_000)
    location_keys_cache_s: float = Field(default=5.0, ge=0, le=3_600)
    # GET /v1/stock/{sku}?at=: replays from the log running at once (more wait their turn).
    as_of_concurrent_max: int = Field(default=2, ge=1, le=64)
    # Waiting for Kafka acknowledgements (503 past it) and for /healthz probes.
    produce_timeout_s: float = Field(default=10.0, gt=0, le=120)
    health_timeout_s: float = Field(default=2.0, gt=0, le=60)
    # /healthz answers from the last background probe, taken this often; older than
    # health_stale_s, it is reported stale (503).
    health_interval_s: float = Field(default=1.0, gt=0, le=60)
    health_stale_s: float = Field(default=10.0, gt=0, le=600)
    # How long a starting gateway waits for Kafka (a broker restart) before giving up.
    broker_wait_s: float = Field(default=300.0, ge=0, le=3_600)
    # `tally import`: rows per produced batch, batches in flight, rejected lines before abort.
    import_batch_rows: int = Field(default=2_000, ge=1, le=100_000)
    import_inflight_batches_max: int = Field(default=8, ge=1, le=256)
    import_rejects_max: int = Field(default=100_000, ge=0, le=100_000_000)


ShopifyReason = Literal[
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_created",
    "movement_updated",
    "movement_received",
    "movement_canceled",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
]


class PusherSettings(BaseModel):
    """Channel pushers (connectors/pushers): follow `tally:changes:{channel}`, push outward.

    Flat on purpose (`shopify_*`, `webhook_*`) so `settings_env` can hand it to a child.
    Empty URLs / secrets / paths mean "not configured"; the pusher refuses to start then.
    """

    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9109, ge=1, le=65535)
    # Consumer name inside the group `tally-pusher-{pusher}`; keep it stable across restarts
    # so the pusher re-reads its own pending entries first.
    consumer: str = Field(default="pusher-1", min_length=1, max_length=64)
    # Where a new consumer group starts: the whole (capped) stream, or only new entries.
    start_from: Literal["earliest", "latest"] = "earliest"
    # XREADGROUP COUNT: stream entries per batch, the coalescing bound.
    read_entries_max: int = Field(default=500, ge=1, le=10_000)
    read_block_ms: int = Field(default=1_000, ge=1, le=60_000)
    # After the first entry of a burst, gather more for up to this long before pushing.
    coalesce_window_s: float = Field(default=0.05, ge=0, le=5)
    # XAUTOCLAIM at start-up: take over entries other consumers left pending this long.
    claim_idle_ms: int = Field(default=60_000, ge=0, le=86_400_000)
    http_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Failed attempts (HTTP errors, timeouts) of one push before it is dead-lettered.
    attempts_max: int = Field(default=8, ge=1, le=100)
    # Exponential backoff with full jitter: uniform(0, min(max, base * 2**attempt)).
    backoff_base_s: float = Field(default=0.5, gt=0, le=60)
    backoff_max_s: float = Field(default=30.0, gt=0, le=600)
    dlq_len_max: int = Field(default=100_000, ge=100, le=10_000_000)

    shopify_shop_url: str = Field(default="", max_length=512, description="https://x.myshopify.com")
    shopify_api_version: str = Field(default="2026-04", pattern=r"^\d{4}-\d{2}$")
    shopify_access_token: SecretStr = SecretStr("")
    shopify_mapping_path: str = Field(default="", max_length=1_024, description="JSON or YAML")
    shopify_reason: ShopifyReason = "correction"
    shopify_reference_uri_prefix: str = Field(default="gid://tally/Sync/", max_length=256)
    # Entries in one inventorySetQuantities `quantities` list.
    shopify_quantities_per_call_max: int = Field(default=50, ge=1, le=250)
    # A THROTTLED wait is (cost - currentlyAvailable) / restoreRate, clamped to these.
    shopify_throttle_wait_s_min: float = Field(default=0.05, ge=0, le=60)
    shopify_throttle_wait_s_max: float = Field(default=10.0, gt=0, le=600)
    # Throttled answers (429/503/THROTTLED) one push may wait out before it is dead-lettered.
    shopify_throttles_max: int = Field(default=30, ge=1, le=1_000)
    # CHANGE_FROM_QUANTITY_STALE re-reads per push before it is dead-lettered.
    shopify_stale_retries_max: int = Field(default=3, ge=1, le=20)

    webhook_url: str = Field(default="", max_length=2_048)
    webhook_secret: SecretStr = SecretStr("")  # whsec_<base64 key>
    # 1: one {channel, sku, available, version, ingested_at} per request; >1: {channel, changes}.
    webhook_figures_per_request_max: int = Field(default=1, ge=1, le=1_000)
    # A receiver's Retry-After (429/503) is honoured up to this long.
    webhook_retry_after_s_max: float = Field(default=60.0, gt=0, le=3_600)
    # Per request; Standard Webhooks recommends 15-30 s (http_timeout_s is Shopify's/Amazon's).
    webhook_timeout_s: float = Field(default=15.0, gt=0, le=120)
    # Waits before retries 1, 2, ... of a figure the receiver did not take (any non-2xx but
    # 410, a timeout, a connection error): Standard Webhooks' schedule, about 27.5 hours in
    # all; then it is dead-lettered. Other SKUs go on meanwhile (docs/PUSHERS.md).
    webhook_retry_schedule_s: tuple[float, ...] = Field(
        default=(5.0, 300.0, 1_800.0, 7_200.0, 18_000.0, 36_000.0, 36_000.0),
        min_length=1,
        max_length=30,
    )
    # "standard": {type, timestamp, data} (Standard Webhooks); "v1": the bare figure (before).
    webhook_payload: Literal["standard", "v1"] = "standard"
    # While disabled (its endpoint answered 410), how often the pusher checks for re-enabling.
    disabled_poll_s: float = Field(default=5.0, gt=0, le=3_600)

    # Amazon Selling Partner API, Listings Items patchListingsItem (fulfillment_availability).
    amazon_endpoint: str = Field(default="https://sellingpartnerapi-na.amazon.com", max_length=512)
    amazon_seller_id: str = Field(default="", max_length=64)
    # One request per seller SKU and marketplace.
    amazon_marketplace_ids: tuple[str, ...] = Field(default=(), max_length=50)
    amazon_product_type: str = Field(default="PRODUCT", min_length=1, max_length=128)
    amazon_issue_locale: str = Field(default="en_US", pattern=r"^[a-z]{2}_[A-Z]{2}$")
    # Optional tally SKU -> seller SKU file (JSON or YAML {sku: seller_sku}); default the same.
    amazon_sku_map_path: str = Field(default="", max_length=1_024)
    amazon_lwa_token_url: str = Field(
        default="https://api.amazon.com/auth/o2/token", max_length=512
    )
    amazon_lwa_client_id: str = Field(default="", max_length=256)
    amazon_lwa_client_secret: SecretStr = SecretStr("")
    amazon_lwa_refresh_token: SecretStr = SecretStr("")
    # The access token is refreshed this long before it expires.
    amazon_token_refresh_margin_s: float = Field(default=60.0, ge=0, le=1_800)
    # patchListingsItem's documented default usage plan (requests per second, burst); a
    # lower x-amzn-RateLimit-Limit answer takes over.
    amazon_rate_per_s: float = Field(default=5.0, gt=0, le=1_000)
    amazon_burst: int = Field(default=10, ge=1, le=1_000)
    # 429 answers one figure may wait out before it is dead-lettered.
    amazon_throttles_max: int = Field(default=30, ge=1, le=1_000)
    # Issue codes of an INVALID submission retried like a 5xx instead of dead-lettered.
    amazon_retry_issue_codes: tuple[str, ...] = Field(default=(), max_length=100)


class EdiSettings(BaseModel):
    """EDI X12 trading partners (connectors/edi, `tally edi ...`; docs/PUSHERS.md)."""

    # Partner profiles (YAML or JSON): ids and qualifiers, item and location mappings.
    partners_file: Path = Field(default=REPO_ROOT / ".tally" / "edi" / "partners.yaml")
    # Documents we write (997s, 846s), one folder per partner.
    outbox_dir: Path = Field(default=REPO_ROOT / ".tally" / "edi" / "outbox")
    # Control-number counters and the 846s sent (awaiting a 997), one JSON file per partner.
    state_dir: Path = Field(default=REPO_ROOT / ".tally" / "edi" / "state")
    # Our interchange identity (ISA05/ISA06 as sender, ISA07/ISA08 as receiver) and GS02/GS03.
    isa_qualifier: str = Field(default="ZZ", pattern=r"^[A-Z0-9]{2}$")
    isa_id: str = Field(default="TALLY", min_length=1, max_length=15, pattern=r"^[!-~]+$")
    gs_id: str = Field(default="TALLY", min_length=2, max_length=15, pattern=r"^[!-~]+$")
    # An ASN with only a ship date (DTM*011) is expected this many days later (DTM*017 wins).
    transit_days: int = Field(default=3, ge=0, le=365)
    # Our 846s and 997s: ISA15 usage (P production, T test) and segments one per line.
    usage: Literal["P", "T"] = "P"
    newline_after_segment: bool = True
    # `tally edi advise --on-change`: change-stream entries per read and the read's block.
    read_entries_max: int = Field(default=500, ge=1, le=10_000)
    read_block_ms: int = Field(default=1_000, ge=1, le=60_000)


class ConsoleSettings(BaseModel):
    """The web console for people (connectors/console), served by the gateway at /console."""

    # Signs the session cookie. Empty: a random secret generated once into `secret_file`
    # (the local dev stack); set TALLY_CONSOLE__SESSION_SECRET where gateways run side by side.
    session_secret: SecretStr = SecretStr("")
    secret_file: Path = Field(default=REPO_ROOT / ".tally" / "console-secret")
    session_ttl_s: int = Field(default=8 * 3_600, ge=60, le=7 * 86_400)
    # A live page's event stream ends after this long (the browser reconnects by itself).
    live_stream_s_max: float = Field(default=600.0, ge=5, le=86_400)
    # The operations page scrapes these worker /metrics (empty: the local worker's port).
    metrics_url: str = Field(default="", max_length=2_048)
    # Policy preview: at most this many SKUs (the first by name with stock in the pools),
    # from at most this many changelog records.
    preview_skus_max: int = Field(default=200, ge=1, le=10_000)
    preview_records_max: int = Field(default=1_000_000, ge=1_000, le=100_000_000)
    dead_letters_shown_max: int = Field(default=50, ge=1, le=1_000)
    # The stock lookup's barcode table: a CSV `barcode,sku` (none: a barcode is a SKU).
    barcodes_file: Path | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TALLY_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    stack: StackSettings = StackSettings()
    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    topics: TopicSettings = TopicSettings()
    worker: WorkerSettings = WorkerSettings()
    orders: OrdersSettings = OrdersSettings()
    gateway: GatewaySettings = GatewaySettings()
    pusher: PusherSettings = PusherSettings()
    edi: EdiSettings = EdiSettings()
    console: ConsoleSettings = ConsoleSettings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once, on first call."""
    return Settings()


def settings_env(settings: Settings) -> dict[str, str]:
    """The `TALLY_*` environment that makes a child process read these same settings."""
    sections = {name: getattr(settings, name) for name in type(settings).model_fields}
    return _sections_env(sections)


def settings_env_changed(settings: Settings) -> dict[str, str]:
    """Only the `TALLY_*` variables of settings that differ from this code's defaults.

    For a child run from another checkout (the bench's before side): it keeps its own
    defaults for everything else, so a change of a default is measured, not overridden.
    """
    defaults = _sections_env({name: f.default for name, f in Settings.model_fields.items()})
    changed = settings_env(settings).items()
    return {key: value for key, value in changed if defaults.get(key) != value}


def _sections_env(sections: dict[str, BaseModel]) -> dict[str, str]:
    env: dict[str, str] = {}
    for section_name, section in sections.items():
        for field_name in type(section).model_fields:
            value = getattr(section, field_name)
            if value is None:  # unset: the child takes the default ("None" is no value)
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, tuple):  # complex values are read back as JSON
                value = json.dumps(list(value))
            env[f"TALLY_{section_name.upper()}__{field_name.upper()}"] = str(value)
    return env
