"""docker-compose.yml: the services exist, ports line up, and every TALLY_* variable is a
real settings field (a typo there would be silently ignored by nobody: Settings forbids it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from base.settings import (
    REPO_ROOT,
    GatewaySettings,
    KafkaSettings,
    PrometheusSettings,
    RedisSettings,
    Settings,
    WorkerSettings,
)

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DEFAULT_FROM_ENV = re.compile(r"^\$\{(?P<name>\w+):-(?P<default>[^}]*)\}$")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _resolve(value: object) -> str:
    """`${VAR:-default}` as docker compose resolves it with VAR unset."""
    text = str(value)
    match = DEFAULT_FROM_ENV.match(text)
    return match["default"] if match else text


def _tally_env() -> dict[str, dict[str, str]]:
    """service name -> its TALLY_* environment."""
    found = {}
    for name, service in _compose()["services"].items():
        environment = service.get("environment") or {}
        assert isinstance(environment, dict), f"{name}: use the mapping form of environment"
        found[name] = {
            key: _resolve(value) for key, value in environment.items() if key.startswith("TALLY_")
        }
    return found


def _setting(settings: Settings, env_var: str) -> object:
    value: object = settings
    for part in env_var.removeprefix("TALLY_").lower().split("__"):
        value = getattr(value, part)
    return value


def _as_text(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def test_services_exist() -> None:
    services = _compose()["services"]
    assert {"kafka", "redis", "prometheus", "grafana", "worker", "gateway"} <= set(services)
    assert services["kafka"]["image"] == "apache/kafka:4.1.2"


def test_published_ports() -> None:
    services = _compose()["services"]

    def container_ports(name: str) -> set[int]:
        return {int(str(mapping).rsplit(":", 1)[1]) for mapping in services[name]["ports"]}

    # The field defaults, not the environment (a developer may have moved local ports).
    assert KafkaSettings().port in container_ports("kafka")
    assert RedisSettings().port in container_ports("redis")
    assert PrometheusSettings().port in container_ports("prometheus")
    assert 3000 in container_ports("grafana")
    assert GatewaySettings().port in container_ports("gateway")
    assert WorkerSettings().metrics_port in container_ports("worker")


def test_kafka_is_kraft_combined_single_node() -> None:
    environment = _compose()["services"]["kafka"]["environment"]
    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert environment[key] == "1"


def test_app_containers_reach_kafka_on_its_internal_listener() -> None:
    services = _compose()["services"]
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    for name in ("worker", "gateway"):
        env = _tally_env()[name]
        assert f"{env['TALLY_KAFKA__HOST']}:{env['TALLY_KAFKA__PORT']}" in advertised


def test_redis_password_matches_the_apps() -> None:
    services = _compose()["services"]
    command = [_resolve(part) for part in services["redis"]["command"]]
    password = command[command.index("--requirepass") + 1]
    for name in ("worker", "gateway"):
        assert _tally_env()[name]["TALLY_REDIS__PASSWORD"] == password


@pytest.mark.parametrize("service", ["worker", "gateway"])
def test_every_tally_env_var_lands_in_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _tally_env()[service]
    assert env, f"{service} sets no TALLY_* variables"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    for key, value in env.items():
        assert _as_text(_setting(settings, key)) == value, key
