"""The fault runner's comparison has teeth: a lost event, a wrong decision and a lost
figure are each reported."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

import processors.faust_repairs
from connectors.pushers import signing, webhook
from connectors.pushers.changes import figure_change
from devtools.faults import check
from devtools.faults.procs import WEBHOOK_SECRET, WebhookReceiver
from devtools.faults.run import REPAIR_LINES, repairs_logged
from ledger.codec import encode
from ledger.fold import apply_event
from ledger.state import SkuState
from tests.support.ledger_builders import channel, fact

NOW = datetime.now(UTC).isoformat()


def record(offset: int, value: bytes) -> check.LogRecord:
    return check.LogRecord(0, offset, b"SKU-1", value)


def a_log() -> check.Log:
    facts = [fact("received", "A", 5), fact("sold_in_store", "A", 1)]
    reserve = {
        "type": "reserve", "request_id": "r-1", "hold_id": "h-1", "sku": "SKU-1",
        "channel": "web", "qty": 2, "ttl_s": 60, "issued_at": NOW,
    }  # fmt: skip
    return check.Log(
        events=[record(n, encode(f)) for n, f in enumerate(facts)],
        commands=[record(0, orjson.dumps(reserve))],
        decisions=[],
        policy=[record(0, encode(channel("web", "A")))],
        table={},
    )


def test_a_table_missing_an_event_is_a_divergence() -> None:
    log = a_log()
    ref = check.reference(log, change_offset=1, phase_b_requests=set())
    assert check.table_divergences(ref.states, ref) == []
    behind = apply_event(SkuState.empty("SKU-1"), fact("received", "A", 5)).state
    wrong = check.table_divergences({"SKU-1": behind}, ref)
    assert wrong and "'version': (1, 3)" in wrong[0]


def test_a_wrong_or_missing_decision_is_a_divergence() -> None:
    log = a_log()
    ref = check.reference(log, change_offset=1, phase_b_requests=set())
    assert ref.decisions["r-1"].outcome == "accepted"
    missing, _ = check.decision_divergences(log, ref, {"r-1"})
    assert missing == ["decision r-1: none on the decisions topic"]
    lie = orjson.loads(ref.decisions["r-1"].model_dump_json()) | {"outcome": "rejected"}
    log.decisions = [record(0, orjson.dumps(lie))]
    wrong, read = check.decision_divergences(log, ref, {"r-1"})
    assert read == 1 and "outcome" in wrong[0]


def test_the_runners_webhook_receiver_reads_every_payload_the_pusher_sends() -> None:
    """The pusher's Standard Webhooks envelope, its batch and the bare v1 figure: a receiver
    reading only the bare figure saw nothing once the envelope became the default."""
    receiver = WebhookReceiver(WEBHOOK_SECRET).start()
    try:
        _deliver_each_payload_kind(receiver)
    finally:
        receiver.stop()
    assert receiver.snapshot() == {"A": 3, "B": 5, "C": 0}
    assert receiver.deliveries == 3


def _deliver_each_payload_kind(receiver: WebhookReceiver) -> None:
    key = signing.secret_key(WEBHOOK_SECRET)
    a, b, c = (figure_change(*f) for f in (("A", "3", "4-1"), ("B", "5", "2-1"), ("C", "0", "7-1")))
    assert a is not None and b is not None and c is not None
    for payload, changes in (("standard", [a]), ("standard", [b, c]), ("v1", [a])):
        content = webhook.body("web", changes, payload=payload)
        msg_id = webhook.message_id("web", changes)
        headers = signing.headers(key, msg_id, int(time.time()), content)
        assert receiver._receive({k.lower(): v for k, v in headers.items()}, content) == 200


def test_the_watches_lines_in_worker_logs_are_counted_per_kind(tmp_path: Path) -> None:
    (tmp_path / "worker-0-1.log").write_text(
        "[2026-12-06 07:28:31,001] [1] [WARNING] starved: f.events[2] has records 5..9 waiting\n"
        "[2026-12-06 07:28:36,001] [1] [WARNING] starved: f.events[3] has records 1..2 waiting\n"
        "[2026-12-06 07:29:01,001] [1] [CRITICAL] still starved after a nudge: [('f.events', 2)]\n"
        "[2026-12-06 07:29:02,001] [1] [INFO] Worker ready\n"
    )
    (tmp_path / "worker-1-2.log").write_text(
        "[2026-12-06 07:28:00,001] [2] [WARNING] filled in 2 acks Faust lost on f.events[0]\n"
    )
    counts = repairs_logged(sorted(tmp_path.glob("worker-*.log")))
    assert counts == {"acks_filled": 1, "starved_nudge": 2, "starved_restart": 1}
    assert repairs_logged([]) == {}


def test_each_counted_line_is_one_a_watch_really_logs() -> None:
    # a reworded log line would silently count zero
    repairs = Path(processors.faust_repairs.__file__).parent
    source = "\n".join(p.read_text() for p in sorted(repairs.glob("*.py")))
    for kind, mark in REPAIR_LINES.items():
        assert mark.split("%")[0] in source, kind
