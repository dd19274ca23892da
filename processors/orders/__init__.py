"""The order processor (`python -m processors.orders`): its own Faust app that runs each
order's allocation saga (`ledger.orders.saga`), decides location capacity, and routes the
per-SKU ledger's decisions on order holds back to their orders. See docs/ORDERS.md.
"""
