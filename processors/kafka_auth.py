"""The Faust apps' broker settings: the bootstrap URL and, for SASL_SSL, their credentials."""

from __future__ import annotations

from typing import Any

import faust

from base.kafka_client import ssl_context
from base.settings import KafkaSettings


def faust_broker_options(kafka: KafkaSettings) -> dict[str, Any]:
    """faust.App settings: the broker URL and, for SASL_SSL, its principal's credentials."""
    options: dict[str, Any] = {"broker": f"kafka://{kafka.bootstrap}"}
    if kafka.security_protocol == "SASL_SSL":
        options["broker_credentials"] = faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            ssl_context=ssl_context(kafka),
            mechanism=kafka.sasl_mechanism,
        )
    return options
