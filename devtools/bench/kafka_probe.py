"""Kafka's own produce->consume latency: a plain consumer in a process of its own.

    python -m devtools.bench.kafka_probe --bootstrap HOST:PORT --topic T --partitions N --out F.json

Assigns every partition of `--topic` at its end, prints `ready`, then for each record
takes `now - ingested_at` (the producer's stamp just before send, same host clock) and
files it under the record's `source` (one per offered rate). On SIGTERM it writes
`{source: [latency_ms, ...]}` to `--out` and exits. The worker is a process of its own
too, so both sides of the comparison pay the same process boundary.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from devtools.bench.kafka_io import assign_all

POLL_TIMEOUT_MS = 100
POLL_RECORDS_MAX = 5_000


async def run(bootstrap: str, topic: str, partitions: int, out: Path) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    latencies: dict[str, list[float]] = {}
    try:
        await assign_all(consumer, [topic], partitions, at="end")
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=POLL_RECORDS_MAX)
            now_s = time.time()
            for messages in batch.values():
                for message in messages:
                    body = orjson.loads(message.value)
                    stamped_s = datetime.fromisoformat(body["ingested_at"]).timestamp()
                    latencies.setdefault(body["source"], []).append((now_s - stamped_s) * 1000)
    finally:
        await consumer.stop()
        out.write_bytes(orjson.dumps(latencies))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(run(args.bootstrap, args.topic, args.partitions, args.out))


if __name__ == "__main__":
    main()
