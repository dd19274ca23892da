"""The CPU a record costs to hand to Kafka: aiokafka's `send` per record, or whole record
batches (`base.kafka_batches`, what the worker's changelog and side sends use).

    python -m devtools.bench.send_cpu [--records 20000] [--chunks 32 200] [--rounds 3]

On the local stack (`tally up`), one idempotent producer (acks=all, 512 KB batches, as the
worker's) sends `--records` records of 300 bytes over four partitions, `--chunks` records at
a time (a worker batch's sends), waiting for every ack of a chunk before the next; the two
ways alternate `--rounds` times. Reported per way and chunk: this process's CPU time per
record, best of the rounds (the machine's other load adds to CPU time, never takes away).
The topic is created for the run and deleted after. Writes the figures, with the command, to
devtools/bench/results/send_cpu.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from base.kafka_batches import KeyValue, send_batches
from base.kafka_client import client_options
from base.settings import Settings

PARTITIONS = 4
VALUE = b"v" * 300
RESULTS = Path(__file__).resolve().parent / "results" / "send_cpu.json"
COMMAND = "python -m devtools.bench.send_cpu"
WAYS = ("send per record", "record batches")

Chunk = Sequence[tuple[int, KeyValue]]  # (partition, (key, value))


async def _per_record(producer: AIOKafkaProducer, topic: str, chunk: Chunk) -> None:
    acks = [
        await producer.send(topic, value, key=key, partition=partition)
        for partition, (key, value) in chunk
    ]
    await asyncio.gather(*acks)


async def _batches(producer: AIOKafkaProducer, topic: str, chunk: Chunk) -> None:
    by_partition: dict[int, list[KeyValue]] = {}
    for partition, pair in chunk:
        by_partition.setdefault(partition, []).append(pair)
    sent = [
        batch
        for partition, pairs in by_partition.items()
        for batch in await send_batches(producer, topic, partition, pairs)
    ]
    await asyncio.gather(*(batch.ack for batch in sent))


SENDERS: dict[str, Callable[[AIOKafkaProducer, str, Chunk], Awaitable[None]]] = {
    WAYS[0]: _per_record,
    WAYS[1]: _batches,
}


async def _cpu_us_per_record(
    producer: AIOKafkaProducer, topic: str, way: str, records: int, chunk_size: int
) -> float:
    chunk = [(i % PARTITIONS, (b"k%d" % i, VALUE)) for i in range(chunk_size)]
    chunks = max(1, records // chunk_size)
    started = time.process_time()
    for _ in range(chunks):
        await SENDERS[way](producer, topic, chunk)
    return (time.process_time() - started) / (chunks * chunk_size) * 1e6


async def measure(
    settings: Settings, records: int, chunk_sizes: Sequence[int], rounds: int
) -> dict[int, dict[str, list[float]]]:
    options = client_options(settings.kafka)
    topic = f"bench-send-cpu-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    producer = AIOKafkaProducer(
        **options, acks="all", enable_idempotence=True, linger_ms=0, max_batch_size=512 * 1024
    )
    figures: dict[int, dict[str, list[float]]] = {
        size: {w: [] for w in WAYS} for size in chunk_sizes
    }
    try:
        await producer.start()
        await _per_record(producer, topic, [(p, (b"warm", VALUE)) for p in range(PARTITIONS)])
        for _ in range(rounds):
            for size in chunk_sizes:
                for way in WAYS:
                    us = await _cpu_us_per_record(producer, topic, way, records, size)
                    figures[size][way].append(us)
    finally:
        await producer.stop()
        await admin.delete_topics([topic])
        await admin.close()
    return figures


def summary(figures: dict[int, dict[str, list[float]]]) -> dict[str, dict[str, Any]]:
    """Per chunk size: each way's best CPU us a record, and batches over per-record sends."""
    out: dict[str, dict[str, Any]] = {}
    for size, ways in figures.items():
        best = {way: round(min(values), 2) for way, values in ways.items()}
        out[str(size)] = {
            "cpu_us_per_record": best,
            "batches_over_send": round(best[WAYS[1]] / best[WAYS[0]], 3),
        }
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--chunks", type=int, nargs="+", default=[32, 200])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.records < 1 or args.rounds < 1 or min(args.chunks) < 1:
        parser.error("--records, --rounds and every --chunks size >= 1")
    figures = asyncio.run(measure(Settings(), args.records, args.chunks, args.rounds))
    result = {
        "command": " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])]),
        "records": args.records,
        "rounds": args.rounds,
        "value_bytes": len(VALUE),
        "by_chunk": summary(figures),
    }
    for size, row in result["by_chunk"].items():
        per = ", ".join(f"{way} {us:g} us" for way, us in row["cpu_us_per_record"].items())
        sys.stdout.write(f"{size} records a chunk: {per} ({row['batches_over_send']} x)\n")
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
