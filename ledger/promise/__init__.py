"""Promise: availability by date, and the ship, delivery and pickup-ready dates of an order
(pure, like the rest of ledger/). See docs/PROMISE.md."""
