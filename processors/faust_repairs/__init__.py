"""The worker's workarounds for faust-streaming 0.15 (and the aiokafka under it), in one seam.

Nothing else in `processors/` touches Faust's private state: the wiring and the batch step
call `FaustRepairs` (one per app), the entry point `LocalStore`, `note_start` and
`restart_after_crash`, the side producer `is_spurious`. Each repair, and what it works around:

- `changelog_highwater`: under exactly-once Faust answers a changelog's highwater from
  aiokafka's last stable offset, unknown until the partition's first fetch, so recovery
  restored nothing at a partition's new owner (two-worker rebalance test). Asks the broker.
- `recovery_offsets`: Faust's exactly-once aborted-transaction detection, trusting a consumer
  position left over from a recovery a rebalance cut short, moved a changelog partition's
  recovery offset to the highwater: its new owner restored nothing (fault seed 12 on a
  cluster: table behind the log). Each recovery starts from the local store's offset.
- `transaction_watch`: Faust only logs failed begin/commit/abort transaction steps and
  fenced producers; they are counted as metrics.
- `rewind`: aiokafka's `seek_to_committed` skips partitions never committed, so records
  Faust dropped during a rebalance were never fetched again (fault runs, "phase A
  committed" timeouts). Seeks those partitions to their first offset, and keeps it for
  `ordering`.
- `ordering`: faust-streaming #596 family: stale records after a seek make Faust drop the
  re-fetched ones, a hole it never commits past. A partition with a hole is sought back. A
  never-committed partition is expected from its first offset: records fetched before the
  rewind's seek had let a resend at offset 1 be decided before its first send (fault seed 6);
  asked of the broker where no rewind found it. A hole before the log start (records deleted
  unread) is skipped to the log start, not sought back forever.
- `commit_watch`: faust-streaming #596: fetched messages dropped unacked stall a
  partition's commits. Fills in the lost acks, or restarts to replay. Also restarts when
  an offsets commit hangs in aiokafka's transactional calls while batches still come (fault
  seed 8, after a broker restart).
- `starvation_watch`: fault runs' `phase-a-stall` (seeds 37 full, 5 small): an assigned
  partition with records waiting delivers none. Nudges it (seek, resume), then restarts.
  The log end comes from the broker (seeds 43, 200: fetches that stopped completing left
  the consumer's own highwater stale, and the watch blind).
- `batch_delivery`: Faust delivers records one at a time (a few tasks, an Event, a queue and a
  stream step each, then a fixed `take_events` window): the fetch loop hands each fetched
  chunk of the source topics to the agent in one step instead; Faust keeps the offsets.
- `fast_restore`: Faust restores a changelog one record at a time (~10k records/s), and waits
  10 s for a transaction marker at its end: partitions behind are read in bulk into RocksDB
  first, past any markers, and Faust's recovery starts at their end.
- `changelog_sends`: Faust's producer buffer hands a table's changelog records to aiokafka one
  event-loop turn each (15-35 ms for a batch at 25 % load): a batch's go in one step.
- `dirty_store`: under exactly-once Faust keeps a kept partition's transaction open through a
  rebalance while recovery rewinds the store to the changelog's last stable offset: the next
  fold mixed older and newer keys of a SKU (fault hunt seed 219: a pending hold its reserved
  bucket no longer counted, a crash loop on `negative bucket`). Open transactions are
  committed before recovery; a partition written past its last commit is wiped and restored
  from its changelog, as Kafka Streams does. The changelog offsets a commit made visible are
  persisted in the store then: Faust's own exactly-once path looks them up by the source
  partitions committed and never persists one (robinhood/faust#599), so every restart read
  each changelog from its start.
- `store_writes`: Faust writes a table key by key (codec, current event, LRU key index, one
  RocksDB put each): a batch's keys of a partition go in one RocksDB write batch.
- `flow_state`: for a task dump, the consumer's flow flag and partition sets (why a fetch
  loop gets nothing).
- `txn_backoff`: aiokafka waits 20 ms before retrying a new transaction's first send while
  the last one's markers are written; on one host they take ~1 ms.
- `fetch_wait`: Faust fixes a fetch's wait at the broker at 1,500 ms; a fetch naming only
  empty partitions (changelogs, the assignor's) held the source partitions back that long.
- `static_membership`: Faust's consumer has no group instance id, so a worker restarted after
  `kill -9` waits for its dead session to time out; with an id set it rejoins at once.
- `consumer_factory`: the one wrapper of Faust's consumer factory the two above adjust.
- `batch_exit`: `take_events` acks a batch when its loop body exits, even by an exception
  or a cancellation. A batch runs whole; a failed one restarts the worker before any commit.
- `restart`: the in-place, bounded process restart those repairs end in (`os.execv`).
- `local_store`: Faust can persist a changelog offset in RocksDB for an aborted commit
  (ConsistencyError, faust-streaming #158). The store is kept only after a clean stop.
- `current_event`: Faust's table picks a key's partition from its private current event,
  in a batch the last one; each table access names the SKU's own event.
- `spurious_cancel`: aiokafka's metadata refresh leaks a CancelledError into tasks nobody
  cancelled; such an error is a failure to retry or replay, not a shutdown.

`processed` (offsets processed since assignment) is the evidence the watches judge by;
`repairs` holds `FaustRepairs`.
"""

from processors.faust_repairs.changelog_sends import ChangelogRecord, ChangelogSender
from processors.faust_repairs.local_store import LocalStore
from processors.faust_repairs.repairs import FaustRepairs
from processors.faust_repairs.restart import note_start, restart_after_crash
from processors.faust_repairs.spurious_cancel import is_spurious
from processors.faust_repairs.store_writes import StoreWrite

__all__ = [
    "ChangelogRecord",
    "ChangelogSender",
    "FaustRepairs",
    "LocalStore",
    "StoreWrite",
    "is_spurious",
    "note_start",
    "restart_after_crash",
]
