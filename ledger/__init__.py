"""The pure ledger domain: models, codec, stock positions, decide/evolve, availability.

Imports no faust, redis, rocksdict or prometheus: everything here is deterministic and I/O-free.
"""
