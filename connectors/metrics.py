"""Prometheus metrics of the gateway and the channel pushers. No SKU ids as labels."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
    "Time of one push to an external channel, by pusher (shopify|webhook).",
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
GATEWAY_FOLLOWER_RESTARTS = Counter(
    "tally_gateway_decision_follower_restarts_total",
    "Restarts of a gateway's decision follower after it failed (holds wait meanwhile).",
)
