"""processors.orders.fold: a replayed batch reaches its orders even when it changes nothing.

The order processor writes an order's state, then publishes its view; killed between the
two (seen in test_orders_contention's kill -9: an order refused in the table, "allocating"
in Redis for good), the replay of its records folds to the same durable state. The batch
must still name the order, so its view is published again."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.codec import encode
from ledger.orders import ids
from ledger.orders.records import OrderLine, PlaceOrder, ShipTo, Timeout
from ledger.orders.saga import SagaRules
from ledger.orders.state import OrderState
from processors.orders.fold import fold_orders

REF = ids.order_ref("web", "1001")
RULES = SagaRules()
PLACE = PlaceOrder(
    ref=REF,
    issued_at=datetime(2026, 12, 5, 12, 0, tzinfo=UTC),
    channel="web",
    order_id="1001",
    lines=(OrderLine(sku="SKU-1", qty=1),),
    delivery=ShipTo(latitude=40.7, longitude=-74.0),
    max_shipments=3,
    allow_partial=False,
    digest="d1",
)
MESSAGE = (0, REF.encode(), encode(PLACE))


def test_a_first_fold_names_the_order_it_changed() -> None:
    folded = fold_orders([MESSAGE], lambda ref: None, RULES)
    assert list(folded.states) == [REF]
    assert folded.touched == folded.states


def test_a_replay_that_changes_nothing_still_names_the_order_as_it_stands() -> None:
    durable: OrderState = fold_orders([MESSAGE], lambda ref: None, RULES).states[REF]
    replayed = fold_orders([MESSAGE], lambda ref: durable, RULES)
    assert replayed.states == {}  # nothing to write or send ...
    assert replayed.touched == {REF: durable}  # ... but its view to publish again


def test_a_record_for_an_order_never_placed_touches_nothing() -> None:
    timeout = Timeout(ref=REF, issued_at=PLACE.issued_at, step=1)
    folded = fold_orders([(0, REF.encode(), encode(timeout))], lambda ref: None, RULES)
    assert folded.touched == {}
