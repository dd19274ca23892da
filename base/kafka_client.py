"""How every Tally process connects to Kafka: the bootstrap address and, in a real
deployment, SASL/SCRAM over TLS as its own principal (settings.kafka)."""

from __future__ import annotations

import ssl
from typing import Any, Protocol

from aiokafka.helpers import create_ssl_context

from base.settings import KafkaSettings


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext:
    """Verifies the brokers' certificates (and host names) against `ssl_cafile`."""
    cafile = None if kafka.ssl_cafile is None else str(kafka.ssl_cafile)
    context: ssl.SSLContext = create_ssl_context(cafile=cafile)
    return context


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
    options: dict[str, Any] = {"bootstrap_servers": kafka.bootstrap}
    if kafka.security_protocol == "SASL_SSL":
        options |= {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": kafka.sasl_mechanism,
            "sasl_plain_username": kafka.sasl_username,
            "sasl_plain_password": kafka.sasl_password.get_secret_value(),
            "ssl_context": ssl_context(kafka),
        }
    return options


class _Startable(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


async def start_or_close(client: _Startable) -> None:
    """`client.start()`; when it fails (no broker answered), the half-started client is
    stopped before the error goes on: aiokafka leaves its connections and, unstopped, a
    ResourceWarning at garbage collection."""
    try:
        await client.start()
    except BaseException:
        await client.stop()
        raise
