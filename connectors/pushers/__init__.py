"""Channel pushers: follow a channel's change stream in Redis and push figures outward.

`python -m connectors.pushers --channel NAME --pusher shopify|webhook|amazon` runs one. See
docs/PUSHERS.md for configuration and guarantees.
"""
