"""One typed settings object for every Tally process.

Read from the environment with the `TALLY_` prefix, nested with `__`
(e.g. `TALLY_KAFKA__PORT=19092`). Importing this module reads nothing: call
`get_settings()` (processes) or construct `Settings(...)` explicitly (tests).
Every bound is explicit and validated here, at the edge.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


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

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"


class RedisSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=6379, ge=1, le=65535)
    # The local Redis is bound to loopback and still requires a password.
    password: SecretStr = SecretStr("tally-local-dev")
    db: int = Field(default=0, ge=0, le=15)
    socket_timeout_s: float = Field(default=5.0, gt=0, le=60)

    @property
    def url(self) -> str:
        return f"redis://:{self.password.get_secret_value()}@{self.host}:{self.port}/{self.db}"


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
    partitions: int = Field(default=4, ge=1, le=256)


class WorkerSettings(BaseModel):
    app_id: str = Field(default="tally", min_length=1, max_length=64)
    data_dir: Path = Field(default=REPO_ROOT / ".tally" / "worker-data")
    web_port: int = Field(default=6066, ge=1, le=65535)
    metrics_port: int = Field(default=9108, ge=1, le=65535)
    processing_guarantee: Literal["exactly_once", "at_least_once"] = "exactly_once"
    # stream.take(): at most this many messages, waiting at most this long, per batch.
    take_batch_max: int = Field(default=500, ge=1, le=10_000)
    take_within_s: float = Field(default=0.02, gt=0, le=5)
    hold_expiry_tick_s: float = Field(default=0.5, gt=0, le=60)
    # How often Faust commits offsets (and, with exactly_once, the Kafka transaction):
    # decisions become visible to read_committed readers at this pace.
    commit_interval_s: float = Field(default=0.2, gt=0, le=30)
    # Keep one batch's processing far below Kafka's transaction timeout (faust #517).
    transaction_timeout_ms: int = Field(default=60_000, ge=1_000, le=900_000)
    changes_stream_len_max: int = Field(default=100_000, ge=100, le=10_000_000)


class GatewaySettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    batch_events_max: int = Field(default=1_000, ge=1, le=100_000)
    payload_bytes_max: int = Field(default=1_048_576, ge=1_024, le=64 * 1_048_576)
    hold_wait_timeout_s: float = Field(default=5.0, gt=0, le=60)
    requests_per_s_per_key_max: float = Field(default=1_000.0, gt=0)


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
    gateway: GatewaySettings = GatewaySettings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once, on first call."""
    return Settings()


def settings_env(settings: Settings) -> dict[str, str]:
    """The `TALLY_*` environment that makes a child process read these same settings."""
    env: dict[str, str] = {}
    for section_name in type(settings).model_fields:
        section = getattr(settings, section_name)
        for field_name in type(section).model_fields:
            value = getattr(section, field_name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[f"TALLY_{section_name.upper()}__{field_name.upper()}"] = str(value)
    return env
