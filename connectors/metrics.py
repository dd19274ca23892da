"""Prometheus metrics of the gateway and the channel pushers. No SKU ids as labels."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

GATEWAY_REQUESTS = Counter(
    "tally_gateway_requests_total",
    "HTTP requests handled by the gateway, by route template and status code.",
    ["route", "status"],
)
GATEWAY_REQUEST_LATENCY = Histogram(
    "tally_gateway_request_seconds",
    "Gateway request handling time, by route template.",
    ["route"],
)
GATEWAY_EVENTS_ACCEPTED = Counter(
    "tally_gateway_events_accepted_total", "Facts acknowledged by Kafka through the gateway."
)
PUSHER_PUSH_LATENCY = Histogram(
    "tally_pusher_push_seconds",
    "Time of one push to an external channel, by pusher (shopify|webhook|amazon).",
    ["pusher"],
)
PUSHER_PUSHES = Counter(
    "tally_pusher_pushes_total",
    "Pushes to external channels, by pusher and result (ok|retry|throttled|dead_letter).",
    ["pusher", "result"],
)
PUSHER_ERRORS = Counter(
    "tally_pusher_errors_total",
    "Failed push attempts, by pusher and kind (http|timeout|throttled|rejected).",
    ["pusher", "kind"],
)
PUSHER_PARKED = Gauge(
    "tally_pusher_parked_figures",
    "Figures waiting for a scheduled retry (webhook receiver down), by pusher.",
    ["pusher"],
)
PUSHER_DISABLED = Gauge(
    "tally_pusher_disabled",
    "1 while a pusher has stopped sending (its endpoint answered 410 Gone), by pusher.",
    ["pusher"],
)
PUSHER_TRIMS = Counter(
    "tally_pusher_trims_detected_total",
    "Changes trimmed from the change stream before the pusher sent them, by pusher and where "
    "(pending: read but not acked; unread: never read). Each one triggers a channel resync.",
    ["pusher", "where"],
)
PUSHER_RESYNCS = Counter(
    "tally_pusher_resyncs_total",
    "Resyncs of a channel's figures from tally:ats (after trimmed changes), by pusher.",
    ["pusher"],
)
GATEWAY_FOLLOWER_RESTARTS = Counter(
    "tally_gateway_decision_follower_restarts_total",
    "Restarts of a gateway's decision follower after it failed (holds wait meanwhile).",
)
