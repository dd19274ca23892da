"""The routes' two Kafka calls, their failures turned into the gateway's answers.

A produce or ask that fails to reach Kafka is a 503 (`BackendUnavailable`); a hold command
without a decision in time is a 504 (retrying with the same request_id is safe).
"""

from __future__ import annotations

from aiokafka.errors import KafkaError
from fastapi import HTTPException

from connectors.gateway.backends import Bus
from connectors.gateway.errors import BackendUnavailable
from ledger.commands import Decision, HoldCommand


async def produce(bus: Bus, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    try:
        await bus.produce(topic, records)
    except (KafkaError, TimeoutError, OSError) as error:
        raise BackendUnavailable(f"kafka unavailable: {type(error).__name__}") from error


async def ask(bus: Bus, command: HoldCommand) -> Decision:
    try:
        return await bus.ask(command)
    except TimeoutError as error:
        raise HTTPException(
            504, "no decision in time; retry with the same request_id for the same answer"
        ) from error
    except (KafkaError, OSError) as error:
        raise BackendUnavailable(f"kafka unavailable: {type(error).__name__}") from error
