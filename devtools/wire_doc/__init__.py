"""docs/WIRE.md's tables, rendered from the code that defines the wire contract.

`python -m devtools.wire_doc` rewrites every generated block of docs/WIRE.md (between
`<!-- wire:NAME -->` and `<!-- /wire:NAME -->`); `--check` exits 1 when the file is out of
date (tests/docs/test_wire_doc.py runs the same check). Field types, bounds and defaults
come from the pydantic models (ledger/), ledger/limits.py, base/topics.py,
base/redis_keys.py, base/dead_letters.py, base/table_layout.py and the settings' defaults;
the meanings of fields are in notes.py, and the prose around the tables is hand-written.
"""
