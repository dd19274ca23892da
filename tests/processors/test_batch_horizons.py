"""processors.batch's availability-by-date figures: only for SKUs with supply incoming (or
just gone), only the channels whose horizon changed, all of them on a replay."""

from __future__ import annotations

from datetime import timedelta

from base.horizons import parse_horizon
from ledger.codec import encode
from ledger.fold import fold
from ledger.state import SkuState
from tests.processors.test_batch import BOOK, empty_loader, message
from tests.processors.test_batch import run as process
from tests.support import ledger_builders as t


def supply(qty: int, eta_days: int, order: str = "PO-1") -> bytes:
    eta = t.T0 + timedelta(days=eta_days)
    return encode(t.fact("supply_expected", "A", qty, order_id=order, eta=eta))


def atp(outcome: object) -> dict[str, object]:
    figures = getattr(outcome, "figures", [])
    return {f.scope: f for f in figures if f.kind == "atp"}


def test_a_supply_publishes_the_horizon_of_each_channel_it_feeds() -> None:
    outcome = process([message(supply(10, 3))], empty_loader, BOOK, policy_version=2)
    published = atp(outcome)
    assert set(published) == {"web"}  # "pos" sells from B only
    figure = published["web"]
    horizon = parse_horizon(getattr(figure, "detail", ""))
    day0 = t.T0.date()
    assert horizon.steps == ((day0, 0), (day0 + timedelta(days=3), 10))
    assert getattr(figure, "version", None) == (1, 2)


def test_a_sku_with_nothing_incoming_publishes_no_horizon() -> None:
    outcome = process(
        [message(encode(t.fact("received", "A", 5)))], empty_loader, BOOK, policy_version=0
    )
    assert atp(outcome) == {}


def test_a_sale_moves_the_horizon_and_a_receipt_flattens_it() -> None:
    stored = fold([t.fact("supply_expected", "A", 10, order_id="PO-1")], SkuState.empty(t.SKU))

    def loader(sku: str, partition: int) -> SkuState:
        return stored

    sale = process([message(encode(t.fact("received", "A", 2)))], loader, BOOK, policy_version=0)
    assert parse_horizon(getattr(atp(sale)["web"], "detail", "")).steps[0][1] == 2
    arrived = process(
        [message(encode(t.fact("received", "A", 10, order_id="PO-1")))],
        loader,
        BOOK,
        policy_version=0,
    )
    assert parse_horizon(getattr(atp(arrived)["web"], "detail", "")).steps == ()


def test_a_change_outside_every_pool_publishes_none_but_a_replay_does() -> None:
    stored = fold([t.fact("supply_expected", "A", 10, order_id="PO-1")], SkuState.empty(t.SKU))

    def loader(sku: str, partition: int) -> SkuState:
        return stored

    elsewhere = [message(encode(t.fact("received", "C", 1)))]  # no channel sells C
    assert atp(process(elsewhere, loader, BOOK, policy_version=0)) == {}
    replayed = process(elsewhere, loader, BOOK, policy_version=0, replayed=lambda m: True)
    assert set(atp(replayed)) == {"web"}
