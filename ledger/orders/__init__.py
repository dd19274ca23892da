"""Orders: the records of an order's own log (`tally.orders`), its state, and the saga that
turns them into asks of the per-SKU ledger (pure: the order processor does the I/O).

See docs/ORDERS.md for the lifecycle, the saga and what happens on each failure.
"""
