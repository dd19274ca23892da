"""How long Kafka takes to acknowledge a transactional producer's records, with and without a
commit just before, outside the worker (what `processors/faust_repairs/txn_backoff.py` rests on).

    python -m devtools.bench.txn_acks [--records 40] [--rounds 40] [--retry-s 0.02]

Four transactional producers (one per partition, as the worker's exactly-once has them),
acks=all, 512 KB batches: each round sends `--records` records of 1.5 KB spread over the
four partitions and waits for every ack; every fourth round follows a commit of all four
transactions. `--retry-s` sets aiokafka's wait before it asks again when a new transaction's
first send meets the last one's markers still being written (aiokafka's own: 0.02 s). Prints
the median and max ack time of the rounds after a commit and of the others, on the local
stack (`tally up`); the topic is created for the run and deleted after.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.producer import sender

from base.kafka_client import client_options
from base.settings import Settings

PARTITIONS = 4
VALUE = b"x" * 1500
COMMIT_EVERY_ROUNDS = 4


async def _round(producers: list[AIOKafkaProducer], topic: str, records: int) -> float:
    """Milliseconds from the first send to the last ack of one round."""
    started = time.monotonic()
    acks = [
        await producers[i % PARTITIONS].send(topic, VALUE, key=b"k%d" % i, partition=i % PARTITIONS)
        for i in range(records)
    ]
    await asyncio.gather(*acks)
    return (time.monotonic() - started) * 1000


async def measure(settings: Settings, records: int, rounds: int) -> dict[str, list[float]]:
    options = client_options(settings.kafka)
    topic = f"bench-txn-acks-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    producers = [
        AIOKafkaProducer(
            **options, transactional_id=f"{topic}-{p}", acks="all", max_batch_size=512 * 1024
        )
        for p in range(PARTITIONS)
    ]
    spans: dict[str, list[float]] = {"after a commit": [], "inside a transaction": []}
    try:
        for producer in producers:
            await producer.start()
            await producer.begin_transaction()
        await _round(producers, topic, records)  # metadata and partitions added: not timed
        for index in range(1, rounds + 1):
            after_commit = index % COMMIT_EVERY_ROUNDS == 0
            if after_commit:
                for producer in producers:
                    await producer.commit_transaction()
                    await producer.begin_transaction()
            key = "after a commit" if after_commit else "inside a transaction"
            spans[key].append(await _round(producers, topic, records))
    finally:
        for producer in producers:
            await producer.stop()
        await admin.delete_topics([topic])
        await admin.close()
    return spans


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--retry-s", type=float, default=0.02)
    args = parser.parse_args(argv)
    sender.BACKOFF_OVERRIDE = args.retry_s
    spans = asyncio.run(measure(Settings(), args.records, args.rounds))
    for kind, values in spans.items():
        sys.stdout.write(
            f"{kind}: {len(values)} rounds of {args.records} records, acked in "
            f"median {statistics.median(values):.1f} ms, max {max(values):.1f} ms "
            f"(retry after a commit: {args.retry_s * 1000:g} ms)\n"
        )


if __name__ == "__main__":
    main()
