"""How SKU states lie in the positions table (and so in its changelog).

A state is stored in parts (ledger.codec `split_state`): its core under the SKU's own key,
and each sealed chunk of its journals (stored decisions, resolved holds, seen ids) under
`sku NUL kind NUL seq`, written once when sealed and deleted (a tombstone in the changelog)
when dropped. Its holds part (pending holds, the journals' fresh entries) is `holds` 0,
rewritten only when a hold command changed it, so a fact rewrites the core alone. A hot
SKU's core stays small, so a batch rewrites a few hundred bytes instead of every idempotency
record the SKU keeps. A SKU never contains NUL, so the two kinds of key
cannot meet; readers of the table iterate `state_keys` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from ledger.codec import ChunkId, join_state, split_state
from ledger.state import SkuState

_NUL = b"\x00"
# (key, value) for the store and the changelog; None deletes the key
Write = tuple[bytes, bytes | None]


def state_key(sku: str) -> bytes:
    return sku.encode()


def chunk_key(sku: str, chunk: ChunkId) -> bytes:
    kind, seq = chunk
    return b"%s\x00%s\x00%d" % (sku.encode(), kind.encode(), seq)


def is_state_key(key: bytes) -> bool:
    return _NUL not in key


def is_key_of(key: bytes, sku: str) -> bool:
    """`key` is the SKU's core or one of its chunks."""
    own = sku.encode()
    return key == own or key.startswith(own + _NUL)


def state_writes(state: SkuState, stored: SkuState | None) -> list[Write]:
    """The writes that turn the table's `stored` state of the SKU (None: none) into `state`.

    New chunks come before the core that refers to them: a reader of the changelog (a
    restore, `tally stock`) never meets a core whose chunks are yet to come.
    """
    parts = split_state(state, stored)
    sku = state.sku
    writes: list[Write] = [(chunk_key(sku, chunk), raw) for chunk, raw in parts.new_chunks.items()]
    writes.append((state_key(sku), parts.core))
    writes += [(chunk_key(sku, chunk), None) for chunk in parts.dropped_chunks]
    return writes


def read_state(get: Callable[[bytes], bytes | None], sku: str) -> SkuState | None:
    """The SKU's state from a table read through `get` (None: never stored).

    Raises `ledger.errors.DecodeError` for an unreadable core or a missing chunk.
    """
    core = get(state_key(sku))
    if core is None:
        return None
    return join_state(core, lambda chunk: get(chunk_key(sku, chunk)))


def read_all_states(table: Mapping[bytes, bytes | None]) -> Iterator[SkuState]:
    """Every SKU state in `table` (key -> latest value; None is a deleted key)."""
    for key in state_keys(table):
        state = read_state(table.get, key.decode())
        if state is not None:
            yield state


def state_keys(keys: Iterable[bytes]) -> Iterator[bytes]:
    return (key for key in keys if is_state_key(key))
