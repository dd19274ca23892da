"""Redis keys owned by the pushers (the change stream itself is in base.redis_keys).

Group:   tally-pusher-{pusher}            consumer group on tally:changes:{channel}
Pushed:  tally:pushed:{pusher}:{channel}  hash  sku -> "S-P:quantity", the last figure the
                                          external side confirmed (also what we believe it
                                          holds, Shopify's changeFromQuantity)
DLQ:     tally:pusher-dlq:{channel}       stream of {pusher, sku, available, version,
                                          ingested_at, reason, attempts, failed_at}
Disabled: tally:pusher-disabled:{pusher}:{channel}
                                          string, why the pusher stopped sending (an
                                          endpoint that answered 410 Gone); delete it
                                          (`tally push enable`) to resume
"""

from __future__ import annotations

from typing import Literal

PusherKind = Literal["shopify", "webhook", "amazon"]
PUSHER_KINDS: tuple[PusherKind, ...] = ("shopify", "webhook", "amazon")


def group_name(pusher: PusherKind) -> str:
    return f"tally-pusher-{pusher}"


def pushed_key(pusher: PusherKind, channel: str) -> str:
    return f"tally:pushed:{pusher}:{channel}"


def dlq_key(channel: str) -> str:
    return f"tally:pusher-dlq:{channel}"


def disabled_key(pusher: PusherKind, channel: str) -> str:
    return f"tally:pusher-disabled:{pusher}:{channel}"
