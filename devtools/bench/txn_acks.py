"""How long Kafka takes to acknowledge a transactional producer's records, with and without a
commit just before, and to commit four transactions in turn or side by side, outside the
worker (what `processors/faust_repairs/txn_backoff.py` rests on; the worker commits in turn,
as Faust does: side by side was slower in it, devtools/bench/FINDINGS.md, eleventh session).

    python -m devtools.bench.txn_acks [--records 40] [--rounds 40] [--retry-s 0.02]

Four transactional producers (one per partition, as the worker's exactly-once has them),
acks=all, 512 KB batches: each round sends `--records` records of 1.5 KB spread over the
four partitions and waits for every ack; every fourth round follows a commit of all four
transactions (EndTxn, then the next begin), alternately one producer after another and all
four at once, each commit timed. `--retry-s` sets aiokafka's wait before it asks again when
a new transaction's first send meets the last one's markers still being written (aiokafka's
own: 0.02 s). Prints
the median and max ack time of the rounds after a commit and of the others, and of the two
ways to commit, on the local stack (`tally up`); the topic is created for the run and deleted
after. Writes the figures, with the command, to devtools/bench/results/txn_acks.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.producer import sender

from base.kafka_client import client_options
from base.settings import Settings

PARTITIONS = 4
VALUE = b"x" * 1500
COMMIT_EVERY_ROUNDS = 4
RESULTS = Path(__file__).resolve().parent / "results" / "txn_acks.json"
COMMAND = "python -m devtools.bench.txn_acks"
COMMITS = ("commit in turn", "commit side by side")


async def _round(producers: list[AIOKafkaProducer], topic: str, records: int) -> float:
    """Milliseconds from the first send to the last ack of one round."""
    started = time.monotonic()
    acks = [
        await producers[i % PARTITIONS].send(topic, VALUE, key=b"k%d" % i, partition=i % PARTITIONS)
        for i in range(records)
    ]
    await asyncio.gather(*acks)
    return (time.monotonic() - started) * 1000


async def _commit(producers: list[AIOKafkaProducer], side_by_side: bool) -> float:
    """Milliseconds to commit every producer's transaction and begin the next."""

    async def commit_one(producer: AIOKafkaProducer) -> None:
        await producer.commit_transaction()
        await producer.begin_transaction()

    started = time.monotonic()
    if side_by_side:
        await asyncio.gather(*(commit_one(producer) for producer in producers))
    else:
        for producer in producers:
            await commit_one(producer)
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
    spans |= {way: [] for way in COMMITS}
    try:
        for producer in producers:
            await producer.start()
            await producer.begin_transaction()
        await _round(producers, topic, records)  # metadata and partitions added: not timed
        for index in range(1, rounds + 1):
            after_commit = index % COMMIT_EVERY_ROUNDS == 0
            if after_commit:
                side_by_side = (index // COMMIT_EVERY_ROUNDS) % 2 == 0
                spans[COMMITS[side_by_side]].append(await _commit(producers, side_by_side))
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
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.records < 1 or args.rounds < 2 * COMMIT_EVERY_ROUNDS or args.retry_s < 0:
        parser.error(f"--records >= 1, --rounds >= {2 * COMMIT_EVERY_ROUNDS}, --retry-s >= 0")
    sender.BACKOFF_OVERRIDE = args.retry_s
    spans = asyncio.run(measure(Settings(), args.records, args.rounds))
    summary = {
        kind: {
            "count": len(values),
            "median_ms": round(statistics.median(values), 2),
            "max_ms": round(max(values), 2),
        }
        for kind, values in spans.items()
    }
    for kind, row in summary.items():
        what = "committed" if kind in COMMITS else f"rounds of {args.records} records, acked"
        sys.stdout.write(
            f"{kind}: {row['count']} {what} in median {row['median_ms']:.1f} ms, "
            f"max {row['max_ms']:.1f} ms (retry after a commit: {args.retry_s * 1000:g} ms)\n"
        )
    turn, side = (summary[way]["median_ms"] for way in COMMITS)
    result = {
        "command": " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])]),
        "partitions": PARTITIONS,
        "records": args.records,
        "rounds": args.rounds,
        "retry_s": args.retry_s,
        "spans": summary,
        "side_by_side_over_in_turn_median": round(side / turn, 3) if turn else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
