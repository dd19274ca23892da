"""Every generated block of docs/WIRE.md, by name, each read from the code it documents."""

from __future__ import annotations

import inspect
import json
import typing
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import BaseModel

from base import redis_keys
from base.dead_letters import (
    DEAD_LETTER_BYTES_MAX,
    KEY_PREVIEW_BYTES_MAX,
    RAW_PREVIEW_BYTES_MAX,
    dead_letter_record,
)
from base.settings import RedisSettings, Settings, TopicSettings, WorkerSettings
from base.table_layout import chunk_key
from base.topics import changelog_topic, partition_for, wanted_topics
from devtools.wire_doc.notes import meaning_of
from devtools.wire_doc.render import field_table, fields_differing, number, table
from ledger import limits
from ledger.codec import STATE_FORMAT, ChunkKind
from ledger.commands import CommandUnion, Decision, _Command
from ledger.events import Fact, _Fact
from ledger.orders.records import CapacityAsk, OrderRecordUnion, _OrderRecord
from ledger.policy import ChannelPolicy, LocationPolicy

# By TopicSettings field: (key, value, who writes it).
TOPICS = {
    "events": ("the SKU", "a [fact](#tallyevents-facts)", "the gateway, `tally import`, you"),
    "commands": ("the SKU", "a [command](#tallycommands)", "the gateway; the worker (`expire`)"),
    "decisions": ("the SKU", "a [decision](#tallydecisions)", "the worker"),
    "policy": ("`channel:{channel}` or `location:{location}`", "a [policy record]"
               "(#tallypolicy)", "the gateway (channels), you"),
    "dlq": ("the refused record's key", "a [dead letter](#tallydlq)", "the worker"),
    "orders": ("the order's ref", "an [order log record](#tallyorders)",
               "the gateway; the order processor"),
    "capacity": ("the location", "a [capacity ask](#tallycapacity)", "the order processor"),
}  # fmt: skip
# By base.redis_keys function: (its arguments, Redis type, content).
REDIS_KEYS = {
    "ats_key": (("{channel}",), "hash", "SKU → the channel's available-to-sell units "
                "(decimal string, never negative)"),
    "loc_key": (("{location}",), "hash", "SKU → available units at the location"),
    "changes_key": (("{channel}",), "stream", "one entry per changed channel figure: see below"),
    "stock_events_key": (("{channel}",), "stream", "out-of-stock, back-in-stock and low-stock "
                         "events of the channel's figures: see below"),
    "sku_changes_key": (("{sku}",), "pub/sub channel", "the SKU's figure version `S-P`, once "
                        "per publish that changed any of its figures (nothing stored; the "
                        "console's live pages listen)"),
    "version_key": (("ats", "{channel}"), "hash", "SKU → `S-P:published_ms`: the "
                    "[version](#figure-versions) of the figure beside it and when it was written"),
    "order_key": (("{ref}",), "hash", "`version` and `view`: the order as "
                  "`GET /v1/orders/{id}` returns it (JSON), written only when newer"),
    "order_changes_key": (("{channel}",), "stream", "one entry per change of one of the "
                          "channel's orders: `{order_id, ref, status, version, event, "
                          "promised}`; `event` is `changed`, or `promise_changed` (with "
                          "`promised_before`) when an allocated order's promise moved "
                          "([PROMISE.md](PROMISE.md))"),
    "atp_key": (("{channel}",), "hash", "SKU → its availability by date in the channel (JSON "
                "`{first, last, steps: [[day, units], ...]}`; empty steps: today's figure on "
                "every day), for SKUs with supply incoming ([PROMISE.md](PROMISE.md))"),
    "supply_key": (("{location}",), "hash", "SKU → the supply a backorder may still wait on at "
                   "the location (JSON `[[eta, units not yet promised], ...]`, earliest first)"),
    "capacity_key": (("{location}",), "hash", "local day (`YYYY-MM-DD`) → orders the location "
                     "took that day"),
    "count_tasks_key": (("{location}",), "hash", "SKU → why its count at the location is "
                        "suspect (JSON `{reason, ref, at}`): a store could not pick it"),
    "stranded_key": (("{channel}",), "sorted set", "SKU scored by its stranded units: the "
                     "channel shows 0 while locations outside its pool hold that many sellable "
                     "units ([KPIS.md](KPIS.md#stranded-stock)); the top SKUs only, best effort"),
}  # fmt: skip
LOCATION_VERSION_KEY = redis_keys.version_key("loc", "{location}")
# By dead-letter field, in record order: (type, meaning).
DEAD_LETTER = {
    "reason": ("string", "Why, in words (an invalid record: the fields and what is wrong)."),
    "reason_kind": ("string", "`empty`, `invalid`, `key_mismatch`, `wrong_partition` or "
                    "`limit`."),
    "topic": ("string", "Where the refused record is: its topic ..."),
    "partition": ("integer", "... partition ..."),
    "offset": ("integer", "... and offset."),
    "key": ("string or null", "Its key as text (bytes that are not UTF-8 replaced), the "
            f"first {KEY_PREVIEW_BYTES_MAX:,} bytes."),
    "raw": ("string", f"Its value as text, the first {RAW_PREVIEW_BYTES_MAX:,} bytes."),
    "raw_base64": ("string", f"Its value's first {RAW_PREVIEW_BYTES_MAX:,} bytes, base64 (all "
                   "of a value no longer than a record any decoder accepts)."),
    "raw_bytes": ("integer", "Its value's size in bytes."),
    "raw_sha256": ("string", "Its whole value's sha256, hex: a letter is bounded "
                   f"({DEAD_LETTER_BYTES_MAX:,} bytes at most), whatever the record's size."),
}  # fmt: skip
# By ledger.limits name: what it bounds.
BOUNDS = {
    "ID_CHARS_MAX": "characters in any id or token",
    "ID_PATTERN": "an id: `sku`, `location`, `channel`, `target_location`",
    "TOKEN_PATTERN": "a token: `event_id`, `hold_id`, `request_id`, `order_id`, `source`",
    "REASON_CHARS_MAX": "characters in a `reason`",
    "QTY_UNITS_MAX": "units in any `qty` (`adjusted`: from minus this to this); also a "
    "location's on-hand, its units held back and its free units (minus this to this: a fact "
    "past it, dead letter `limit`), and a decision's `available_after` (a channel's larger "
    "ATS is reported as this)",
    "BUFFER_UNITS_MAX": "a channel's `buffer_units`",
    "SAFETY_STOCK_UNITS_MAX": "a location's `safety_stock_units`",
    "HOLD_TTL_S_MIN": "a reserve's `ttl_s`, at least",
    "HOLD_TTL_S_MAX": "a reserve's `ttl_s`, at most",
    "TIMESTAMP_MIN": "every time on the wire, at the earliest",
    "TIMESTAMP_MAX": "every time on the wire, at the latest",
    "OCCURRED_AHEAD_OF_INGEST_S_MAX": "clock skew: `occurred_at` at most this after `ingested_at`",
    "OCCURRED_BEFORE_INGEST_S_MAX": "late delivery: `occurred_at` at most this before "
    "`ingested_at` (an offline POS)",
    "PAYLOAD_BYTES_MAX": "bytes in one record value (fact, command, policy record)",
    "LOCATIONS_PER_SKU_MAX": "locations one SKU has stock at (a fact past it: dead letter `limit`)",
    "OPEN_HOLDS_PER_SKU_MAX": "pending holds of one SKU (a reserve past it: `too_many_holds`)",
    "INCOMING_PER_SKU_MAX": "open incoming orders of one SKU (a fact past it: dead letter `limit`)",
    "BACKORDERS_PER_SKU_MAX": "holds of one SKU waiting on supply (a backorder past it: "
    "`insufficient_supply`)",
    "RESOLVED_HOLDS_PER_SKU_MAX": "resolved holds one SKU remembers, at most (at least this "
    "minus `JOURNAL_FRESH_MAX`): a repeated `hold_id` within them gets its first decision",
    "DECISIONS_PER_SKU_MAX": "decisions one SKU remembers by `request_id`, at most (at least "
    "this minus `JOURNAL_FRESH_MAX`): the idempotency window of commands",
    "JOURNAL_FRESH_MAX": "decisions and resolved holds are forgotten in chunks of this many",
    "SEEN_IDS_FRESH_MAX": "event_ids are forgotten in chunks of this many",
    "SEEN_IDS_PER_SKU_MAX": "event_ids one SKU remembers, at most (at least this minus "
    "`SEEN_IDS_FRESH_MAX`): the idempotency window of facts; an older duplicate is applied "
    "again",
    "LOCATIONS_PER_CHANNEL_MAX": "a channel's `locations`, and its `pickup_locations`",
    "CHANNELS_MAX": "channels in the policy",
    "NAME_CHARS_MAX": "characters in a location's `name`",
    "TIME_ZONE_CHARS_MAX": "characters in a location's `time_zone` (an IANA name)",
    "COST_CENTS_MAX": "a handling cost or a shipping band's `cents`",
    "DISTANCE_KM_MAX": "a shipping band's `up_to_km`",
    "DAILY_ORDERS_MAX": "a location's `daily_order_capacity` (more: leave it unlimited)",
    "PROCESSING_MINUTES_MAX": "a location's `processing_minutes`",
    "HOLIDAYS_MAX": "a location's `holidays`",
    "SHIPPING_BANDS_MAX": "a channel's `shipping_bands`",
    "TRANSIT_DAYS_MAX": "a shipping band's `transit_days`",
    "SOURCING_RULES_MAX": "a channel's `sourcing_rules`",
    "ORDER_LINES_MAX": "lines of one order",
    "ORDER_LINE_UNITS_MAX": "units of one order line",
    "ORDER_SHIPMENTS_MAX": "shipments of one order (`max_shipments`)",
    "ORDER_ROUNDS_MAX": "plans per allocation pass: the first, then re-plans after refusals",
    "ORDER_REROUTES_MAX": "re-routes of one order after pick rejections",
    "DELIVERY_REPORT_DAYS_MAX": "days a delivery's `delivered_on` may be before the day it "
    "is reported",
    "ORDER_RECORD_BYTES_MAX": "bytes in one `tally.orders` record (a plan carries its "
    "explanation and the stock it saw)",
    "ORDER_STATE_BYTES_MAX": "bytes of one order's (or capacity day's) stored state",
}


def facts_common() -> str:
    return field_table(_Fact, meaning_of(_Fact), tag="type")


def facts_by_type() -> str:
    return _by_tag(typing.get_args(Fact), "type", base=_Fact)


def commands_common() -> str:
    return field_table(_Command, meaning_of(_Command), tag="type")


def commands_by_type() -> str:
    return _by_tag(typing.get_args(CommandUnion), "type", base=_Command)


def decision() -> str:
    return field_table(Decision, meaning_of(Decision), tag="")


def policy_records() -> str:
    return _by_tag((ChannelPolicy, LocationPolicy), "kind", base=None)


def order_records() -> str:
    return _by_tag(typing.get_args(OrderRecordUnion), "type", base=_OrderRecord)


def order_records_common() -> str:
    return field_table(_OrderRecord, meaning_of(_OrderRecord), tag="type")


def capacity_ask() -> str:
    return field_table(CapacityAsk, meaning_of(CapacityAsk), tag="")


def _by_tag(models: Sequence[type[BaseModel]], tag: str, *, base: type[BaseModel] | None) -> str:
    """A section per model: its tag, its docstring, and its fields (those `base` lacks or
    defines otherwise, when a base with the common fields is given)."""
    sections = []
    for model in models:
        names = None if base is None else fields_differing(model, base)
        body = field_table(model, meaning_of(model), tag=tag, names=names)
        summary = " ".join((model.__doc__ or "").split())  # one paragraph, unwrapped
        sections.append(f"#### `{_tag(model, tag)}`\n\n{summary}\n\n{body}")
    return "\n\n".join(sections)


def dead_letter() -> str:
    sample = dead_letter_record(
        reason="", reason_kind="", topic="", partition=0, offset=0, key=None, raw=None
    )
    if list(json.loads(sample)) != list(DEAD_LETTER):
        raise KeyError(f"devtools/wire_doc/blocks.py: DEAD_LETTER != the fields of {sample!r}")
    rows = [(f"`{name}`", kind, meaning) for name, (kind, meaning) in DEAD_LETTER.items()]
    return table(("field", "type", "meaning"), rows)


def topics() -> str:
    settings = Settings()
    names = {getattr(settings.topics, field): field for field in TOPICS}
    shape = {"partitions", "replication_factor", "min_insync_replicas"}
    if set(TopicSettings.model_fields) - shape != set(TOPICS):
        raise KeyError("devtools/wire_doc/blocks.py: TOPICS != the topics of TopicSettings")
    rows = []
    for topic in wanted_topics(settings):
        key, value, writers = TOPICS[names[topic.name]]
        partitions = str(topic.num_partitions)
        if topic.num_partitions == settings.topics.partitions:
            partitions = f"`TALLY_TOPICS__PARTITIONS` (default {partitions})"
        cleanup = topic.topic_configs["cleanup.policy"]
        kept = "forever" if topic.topic_configs.get("retention.ms") == "-1" else "broker default"
        if cleanup == "compact":
            kept = "newest per key, forever"
        rows.append((f"`{topic.name}`", partitions, cleanup, kept, key, value, writers))
    headers = ("topic", "partitions", "cleanup", "kept", "key", "value", "written by")
    return table(headers, rows)


def partition_examples() -> str:
    count = Settings().topics.partitions
    skus = ("TSHIRT-M", "TEE-0042-BLK-M", "SKU-1", "CAP-RED", "SKU-2")
    rows = [
        (f"`{sku}`", str(partition_for(sku, count)), str(zlib.crc32(sku.encode()) % count))
        for sku in skus
    ]
    return table(
        ("key (SKU)", f"murmur2: its partition of {count}", "CRC32 (kcat's default)"), rows
    )


def redis() -> str:
    functions = {
        name for name, _ in inspect.getmembers(redis_keys, inspect.isfunction)
        if name.endswith("_key")
    }  # fmt: skip
    if functions != set(REDIS_KEYS):
        raise KeyError("devtools/wire_doc/blocks.py: REDIS_KEYS != base/redis_keys.py's keys")
    rows = []
    for name, (args, kind, content) in REDIS_KEYS.items():
        key = getattr(redis_keys, name)(*args)
        if name == "version_key":
            key = f"{key}`, `{LOCATION_VERSION_KEY}"
        rows.append((f"`{key}`", kind, content))
    return table(("key", "type", "content"), rows)


def redis_connection() -> str:
    defaults = RedisSettings()
    cap = WorkerSettings().changes_stream_len_max
    return (
        f"The local stack's Redis listens on `{defaults.host}:{defaults.port}` (loopback only) "
        f"and requires the password `{defaults.secret()}` (database {defaults.db}; used only "
        "for a Redis on loopback, never as a default elsewhere); set `TALLY_REDIS__PASSWORD` "
        "(and `TALLY_REDIS__HOST`, `__PORT`) to point every Tally process at another Redis. A "
        "change stream keeps about the newest "
        f"{cap:,} entries (`TALLY_WORKER__CHANGES_STREAM_LEN_MAX`, trimmed with `MAXLEN ~`)."
    )


def changelog() -> str:
    kinds = ", ".join(f"`{kind}`" for kind in typing.get_args(ChunkKind))
    example = chunk_key("SKU-1", ("decisions", 3)).replace(b"\x00", b"<NUL>").decode()
    return (
        f"Topic `{changelog_topic(Settings())}` (`{{TALLY_WORKER__APP_ID}}-positions-changelog`"
        "), compacted, as many partitions as `tally.events` (`TALLY_TOPICS__PARTITIONS`): a "
        "SKU's state is on the partition its records are on. Keys: a SKU's core under the "
        "SKU itself (UTF-8); each sealed chunk "
        f"of its remembered ids, and its holds part (pending holds and the newest decisions "
        f"and resolved holds, while it has any), under `SKU NUL kind NUL seq` (kinds {kinds}; "
        f"e.g. `{example}`; the holds part is `holds` 0). Values: a core is one byte, the "
        f"state format ({STATE_FORMAT}), then `+` (its holds part is stored apart) or `-` "
        "(it has none), then the state as JSON; a chunk is JSON; a dropped chunk is a "
        "tombstone (null value). A batch writes new chunks before the core that refers to "
        "them, and a holds part only when it changed."
    )


def types() -> str:
    rows = [
        ("id", f"string, 1 to {limits.ID_CHARS_MAX} characters matching "
         f"`{limits.ID_PATTERN}`", "`TEE-0042-BLK-M`, `store-1`, `web`"),
        ("token", f"string, 1 to {limits.ID_CHARS_MAX} printable ASCII characters, no spaces "
         f"(`{limits.TOKEN_PATTERN}`)", "`rcv-1001`, `reserve:cart-77`"),
        ("time", "string, an RFC 3339 date-time with an offset (`Z` or `+hh:mm`), from "
         f"{limits.TIMESTAMP_MIN:%Y-%m-%d} to {limits.TIMESTAMP_MAX:%Y-%m-%d} (UTC)",
         "`2025-03-01T09:00:00Z`, `2025-03-01T10:00:00.5+01:00`"),
        ("integer", "a JSON integer: never a string, never a float (`5.0` is refused)", "`12`"),
    ]  # fmt: skip
    return table(("type", "what", "e.g."), rows)


def bounds() -> str:
    names = [name for name, value in vars(limits).items() if name.isupper() and name != "UTC"]
    if set(names) != set(BOUNDS):
        raise KeyError(f"devtools/wire_doc/blocks.py: BOUNDS != ledger/limits.py: {names}")
    rows = [(f"`{name}`", _bound(name, getattr(limits, name)), BOUNDS[name]) for name in names]
    return table(("bound (ledger/limits.py)", "value", "what it bounds"), rows)


def _bound(name: str, value: object) -> str:
    if isinstance(value, datetime):
        return f"`{value:%Y-%m-%dT%H:%M:%SZ}`"
    if isinstance(value, str):
        return f"`{value}`"
    assert isinstance(value, int)
    if "_S_" not in name:
        return number(value)
    if value % 86_400 == 0:
        return f"{number(value)} s ({value // 86_400} days)"
    return f"{number(value)} s ({value // 60} min)" if value % 60 == 0 else f"{value} s"


def _tag(model: type[BaseModel], field: str) -> str:
    default = model.model_fields[field].default
    assert isinstance(default, str)
    return default


BLOCKS: dict[str, Callable[[], str]] = {
    "types": types,
    "topics": topics,
    "partitions": partition_examples,
    "facts-common": facts_common,
    "facts": facts_by_type,
    "commands-common": commands_common,
    "commands": commands_by_type,
    "decision": decision,
    "policy": policy_records,
    "order-records-common": order_records_common,
    "order-records": order_records,
    "capacity-ask": capacity_ask,
    "dead-letter": dead_letter,
    "redis-keys": redis,
    "redis-connection": redis_connection,
    "changelog": changelog,
    "bounds": bounds,
}


def render_all() -> dict[str, str]:
    return {name: render() for name, render in BLOCKS.items()}
