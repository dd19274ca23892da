"""docker-compose.yml against the code (there is no Docker engine here): the services exist,
every app command names a module (and attribute) that exists, ports are published on the
host's loopback only and line up with the settings, every TALLY_* variable is a real settings
field (a typo there would be silently ignored by nobody: Settings forbids it), and every
Prometheus target is a compose service listening on that port beyond its own loopback."""

from __future__ import annotations

import importlib
import importlib.util
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
PROMETHEUS_FILE = REPO_ROOT / "ops" / "prometheus" / "prometheus.docker.yml"
APP_SERVICES = ("worker", "orders", "gateway")  # built from this repository's Dockerfile
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


@pytest.mark.parametrize("service", APP_SERVICES)
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


def test_each_consumer_group_service_is_a_static_member_with_an_id_of_its_own() -> None:
    """A restarted container rejoins at once; two members given one id would fence each other."""
    ids = {
        service: value
        for service, env in _tally_env().items()
        for key, value in env.items()
        if key.endswith("__GROUP_INSTANCE_ID")
    }
    assert set(ids) == {"worker", "orders"}, ids
    assert len(set(ids.values())) == len(ids), ids


def _settings_of(service: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in _tally_env()[service].items():
        monkeypatch.setenv(key, value)
    return Settings()


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_app_command_names_code_that_exists(service: str) -> None:
    # The gateway once ran `uvicorn connectors.gateway.app:app`: no such attribute.
    command = [str(part) for part in _compose()["services"][service]["command"]]
    if command[:2] == ["python", "-m"]:
        spec = importlib.util.find_spec(command[2])
        assert spec is not None, command
        if spec.submodule_search_locations is not None:  # a package: it needs __main__
            assert importlib.util.find_spec(f"{command[2]}.__main__") is not None, command
    elif command[0] == "uvicorn":
        module, attribute = command[1].split(":")
        assert hasattr(importlib.import_module(module), attribute), command
    else:
        pytest.fail(f"{service}: unrecognised command {command}")


def test_every_port_is_published_on_the_hosts_loopback_only() -> None:
    for name, service in _compose()["services"].items():
        for mapping in service.get("ports", []):
            assert str(mapping).startswith("127.0.0.1:"), (name, mapping)


def _listeners(settings: Settings) -> dict[str, dict[int, str]]:
    """service -> {port: bind host} of the app listeners Prometheus may scrape."""
    return {
        "worker": {settings.worker.metrics_port: settings.worker.metrics_host},
        "orders": {settings.orders.metrics_port: settings.orders.metrics_host},
        "gateway": {settings.gateway.port: settings.gateway.host},
    }


def test_every_prometheus_target_is_a_service_listening_on_its_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The compose Prometheus once scraped worker:9108 (bound to the container's loopback,
    # unreachable) and pusher:9109 (no such service).
    services = _compose()["services"]
    document = yaml.safe_load(PROMETHEUS_FILE.read_text())
    targets = [
        target
        for job in document["scrape_configs"]
        for config in job["static_configs"]
        for target in config["targets"]
    ]
    assert targets
    for target in targets:
        host, port = target.rsplit(":", 1)
        assert host in services, f"{target}: compose has no service {host!r}"
        with monkeypatch.context() as patched:
            listeners = _listeners(_settings_of(host, patched))[host]
        assert int(port) in listeners, f"{target}: {host} listens on {sorted(listeners)}"
        assert listeners[int(port)] == "0.0.0.0", f"{target}: bound to its own loopback"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_published_app_ports_are_the_ports_the_app_listens_on(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    listeners = _listeners(_settings_of(service, monkeypatch))[service]
    for mapping in _compose()["services"][service].get("ports", []):
        container_port = int(str(mapping).rsplit(":", 1)[1])
        assert listeners.get(container_port) == "0.0.0.0", (service, mapping, listeners)
