"""The order saga, one story per path: allocate, re-plan, refuse, cancel, pick rejection,
timeouts, capacity, partial fills, shipping; and replays change nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ledger.commands import Commit, Decision, Release, Reserve
from ledger.events import OrderCancelled, Shipped
from ledger.orders import ids
from ledger.orders.records import (
    CancelOrder,
    CapacityAnswer,
    MarkPicked,
    MarkShipped,
    OrderDecision,
    OrderLine,
    OrderRecordUnion,
    PlaceOrder,
    Planned,
    PlannedShipment,
    RejectPick,
    ShipTo,
    Timeout,
)
from ledger.orders.saga import Outputs, SagaRules, Stepped, step
from ledger.orders.state import OrderState

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DAY = date(2026, 12, 5)
REF = ids.order_ref("web", "1001")
RULES = SagaRules(rounds_max=3, ask_retries_max=2)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def place(*lines: tuple[str, int], partial: bool = False) -> PlaceOrder:
    return PlaceOrder(
        ref=REF,
        issued_at=T0,
        channel="web",
        order_id="1001",
        lines=tuple(OrderLine(sku=s, qty=q) for s, q in lines),
        delivery=ShipTo(latitude=40.7, longitude=-74.0),
        max_shipments=3,
        allow_partial=partial,
        digest="d1",
    )


def planned(
    seq: int,
    *shipments: tuple[str, tuple[tuple[str, int], ...]],
    unfilled: tuple[tuple[str, int], ...] = (),
) -> Planned:
    return Planned(
        ref=REF,
        issued_at=at(seq),
        plan_seq=seq,
        shipments=tuple(
            PlannedShipment(
                location=loc,
                lines=tuple(OrderLine(sku=s, qty=q) for s, q in lines),
                capacity_day=DAY,
            )
            for loc, lines in shipments
        ),
        locations=tuple(loc for loc, _ in shipments),
        unfilled=tuple(OrderLine(sku=s, qty=q) for s, q in unfilled),
        rankings=(),
        candidates_considered=1,
        truncated=False,
        stock_seen={},
    )


def answer(command: Reserve | Commit | Release, accepted: bool, when: float) -> OrderDecision:
    return OrderDecision(
        ref=REF,
        issued_at=at(when),
        decision=Decision(
            request_id=command.request_id,
            hold_id=command.hold_id,
            sku=command.sku,
            command=command.type,
            outcome="accepted" if accepted else "rejected",
            reason=None if accepted else "insufficient_stock",
            location=getattr(command, "location", None),
            available_after=0,
            decided_at=at(when),
            channel=command.channel,
        ),
    )


def capacity(location: str, accepted: bool, when: float) -> CapacityAnswer:
    return CapacityAnswer(
        ref=REF,
        issued_at=at(when),
        location=location,
        day=DAY,
        outcome="accepted" if accepted else "rejected",
    )


class Run:
    """Folds records one by one, keeping every output."""

    def __init__(self) -> None:
        self.state: OrderState | None = None
        self.last = Outputs()

    def __call__(self, record: OrderRecordUnion) -> Stepped:
        stepped = step(self.state, record, RULES)
        self.state = stepped.state
        self.last = stepped.outputs
        return stepped

    @property
    def now(self) -> OrderState:
        assert self.state is not None
        return self.state

    def status(self) -> str:
        return self.now.status

    def reserves(self) -> list[Reserve]:
        return [c for c in self.last.commands if isinstance(c, Reserve)]

    def commits(self) -> list[Commit]:
        return [c for c in self.last.commands if isinstance(c, Commit)]

    def releases(self) -> list[Release]:
        return [c for c in self.last.commands if isinstance(c, Release)]


def allocate(run: Run) -> None:
    """place A x2 + B x1 -> one plan over two locations -> every ask accepted."""
    run(place(("A", 2), ("B", 1)))
    run(planned(1, ("east", (("A", 2),)), ("west", (("B", 1),))))
    reserves = run.reserves()
    run(capacity("east", True, 1.1))
    run(capacity("west", True, 1.2))
    run(answer(reserves[0], True, 1.3))
    run(answer(reserves[1], True, 1.4))
    for index, commit in enumerate(run.commits()):
        run(answer(commit, True, 1.5 + index / 10))


def test_an_order_is_planned_reserved_committed_and_allocated() -> None:
    run = Run()
    first = run(place(("A", 2), ("B", 1)))
    assert first.outputs.plans[0].plan_seq == 1
    assert run.status() == "placed"
    run(planned(1, ("east", (("A", 2),)), ("west", (("B", 1),))))
    reserves = run.reserves()
    assert [(r.sku, r.location, r.qty, r.channel) for r in reserves] == [
        ("A", "east", 2, "web"),
        ("B", "west", 1, "web"),
    ]
    assert reserves[0].hold_id == ids.hold_id(REF, 1, 0)
    assert reserves[0].request_id == ids.reserve_request(reserves[0].hold_id)
    assert [(a.type, a.location) for a in run.last.capacity] == [
        ("take", "east"),
        ("take", "west"),
    ]
    assert run.status() == "allocating"
    run(capacity("east", True, 1.1))
    run(capacity("west", True, 1.2))
    run(answer(reserves[0], True, 1.3))
    assert not run.commits()  # waits for the whole round
    run(answer(reserves[1], True, 1.4))
    commits = run.commits()
    assert [(c.hold_id, c.order_id) for c in commits] == [(r.hold_id, REF) for r in reserves]
    for index, commit in enumerate(commits):
        run(answer(commit, True, 2 + index))
    assert run.status() == "allocated"
    assert run.now.shipments == {"east": "allocated", "west": "allocated"}
    assert run.now.unfilled() == ()


def test_a_refused_line_is_replanned_alone_excluding_where_it_failed() -> None:
    run = Run()
    run(place(("A", 2), ("B", 1)))
    run(planned(1, ("east", (("A", 2), ("B", 1)))))
    a, b = run.reserves()
    run(capacity("east", True, 1.1))
    run(answer(a, True, 1.2))
    replan = run(answer(b, False, 1.3)).outputs.plans
    assert len(replan) == 1
    need = replan[0]
    assert need.plan_seq == 2
    assert need.lines == (OrderLine(sku="B", qty=1),)
    assert need.fixed == (("east", (OrderLine(sku="A", qty=2),)),)
    assert ("B", "east") in need.excluded
    run(planned(2, ("west", (("B", 1),))))
    (b2,) = run.reserves()
    assert b2.hold_id == ids.hold_id(REF, 2, 0)
    run(capacity("west", True, 2.1))
    run(answer(b2, True, 2.2))
    for commit in run.commits():
        run(answer(commit, True, 3))
    assert run.status() == "allocated"


def test_rounds_exhausted_refuse_the_order_and_release_every_hold() -> None:
    run = Run()
    run(place(("A", 1), ("B", 1)))
    for seq in (1, 2, 3):
        plan = ("east", (("A", 1), ("B", 1))) if seq == 1 else ("west", (("B", 1),))
        run(planned(seq, plan))
        reserves = run.reserves()
        if seq == 1:
            run(capacity("east", True, 1.1))
            run(answer(reserves[0], True, 1.2))
            run(answer(reserves[1], False, 1.3))
        else:
            if seq == 2:
                run(capacity("west", True, seq + 0.1))
            run(answer(reserves[0], False, seq + 0.2))
    assert run.status() == "refused"
    released = run.releases()
    assert [r.hold_id for r in released] == [ids.hold_id(REF, 1, 0)]
    assert sorted((a.type, a.location) for a in run.last.capacity) == [
        ("give", "east"),
        ("give", "west"),
    ]
    run(answer(released[0], True, 9))
    assert run.now.holds[0].status == "released"
    assert not run.now.waiting()


def test_a_second_plan_of_the_same_number_is_ignored() -> None:
    run = Run()
    run(
        place(
            ("A", 1),
        )
    )
    run(planned(1, ("east", (("A", 1),))))
    again = run(planned(1, ("west", (("A", 1),))))
    assert not again.changed and again.outputs.empty()
    assert {h.location for h in run.now.holds} == {"east"}


def test_cancel_gives_committed_units_and_capacity_back_once() -> None:
    run = Run()
    allocate(run)
    run(CancelOrder(ref=REF, issued_at=at(10)))
    facts = run.last.facts
    assert all(isinstance(f, OrderCancelled) for f in facts)
    assert sorted((f.sku, f.location, f.qty, f.order_id) for f in facts) == [
        ("A", "east", 2, REF),
        ("B", "west", 1, REF),
    ]
    assert len({f.event_id for f in facts}) == 2
    assert sorted(a.type for a in run.last.capacity) == ["give", "give"]
    assert run.status() == "cancelled"
    again = run(CancelOrder(ref=REF, issued_at=at(11)))
    assert not again.changed and again.outputs.empty()


def test_a_pick_rejection_gives_back_marks_the_count_suspect_and_reroutes() -> None:
    run = Run()
    allocate(run)
    run(RejectPick(ref=REF, issued_at=at(10), location="west", reason="not_found"))
    (fact,) = run.last.facts
    assert (fact.sku, fact.location, fact.qty) == ("B", "west", 1)
    assert [(t.location, t.sku, t.reason) for t in run.last.count_tasks] == [
        ("west", "B", "not_found")
    ]
    (need,) = run.last.plans
    assert need.lines == (OrderLine(sku="B", qty=1),)
    assert "west" in need.excluded_locations
    assert run.now.shipments["west"] == "rejected"
    assert run.now.rejections[0].reason == "not_found"
    run(planned(need.plan_seq, ("north", (("B", 1),))))
    (reserve,) = run.reserves()
    run(capacity("north", True, 11))
    run(answer(reserve, True, 12))
    (commit,) = run.commits()
    run(answer(commit, True, 13))
    assert run.status() == "allocated"
    assert run.now.shipments == {"east": "allocated", "west": "rejected", "north": "allocated"}


def test_timeouts_ask_again_with_the_same_ids_then_give_up_on_reserves() -> None:
    run = Run()
    run(
        place(
            ("A", 1),
        )
    )
    run(planned(1, ("east", (("A", 1),))))
    (reserve,) = run.reserves()
    run(capacity("east", True, 1.1))
    version = run.now.version
    run(Timeout(ref=REF, issued_at=at(5), step=version))
    assert [r.request_id for r in run.reserves()] == [reserve.request_id]
    stale = run(Timeout(ref=REF, issued_at=at(6), step=version))
    assert not stale.changed
    run(Timeout(ref=REF, issued_at=at(9), step=run.now.version))
    assert run.reserves()  # second retry
    run(Timeout(ref=REF, issued_at=at(20), step=run.now.version))
    (release,) = run.releases()  # given up: released, and not planned at the same place
    assert release.hold_id == reserve.hold_id
    assert run.last.plans == [] or ("A", "east") in run.last.plans[0].excluded


def test_a_full_location_releases_its_holds_and_is_not_planned_again() -> None:
    run = Run()
    run(
        place(
            ("A", 1),
        )
    )
    run(planned(1, ("east", (("A", 1),))))
    (reserve,) = run.reserves()
    run(answer(reserve, True, 1.1))
    run(capacity("east", False, 1.2))
    (release,) = run.releases()
    assert release.hold_id == reserve.hold_id
    run(answer(release, True, 1.3))
    (need,) = run.last.plans
    assert "east" in need.excluded_locations and need.fixed == ()


def test_a_partial_order_commits_what_it_holds() -> None:
    run = Run()
    run(place(("A", 2), ("B", 1), partial=True))
    run(planned(1, ("east", (("A", 2),)), unfilled=(("B", 1),)))
    (reserve,) = run.reserves()
    run(capacity("east", True, 1.1))
    run(answer(reserve, True, 1.2))
    assert not run.last.plans  # nothing was refused: the plan's own gap is not re-planned
    (commit,) = run.commits()
    run(answer(commit, True, 1.3))
    assert run.status() == "partially_allocated"
    assert run.now.unfilled() == (OrderLine(sku="B", qty=1),)


def test_shipping_every_shipment_completes_the_order() -> None:
    run = Run()
    allocate(run)
    run(MarkPicked(ref=REF, issued_at=at(10), location="east"))
    run(MarkShipped(ref=REF, issued_at=at(11), location="east"))
    (fact,) = run.last.facts
    assert isinstance(fact, Shipped) and (fact.sku, fact.qty) == ("A", 2)
    assert run.status() == "allocated"
    run(MarkShipped(ref=REF, issued_at=at(12), location="west"))
    assert run.status() == "completed"
    assert not run(CancelOrder(ref=REF, issued_at=at(13))).changed


def test_a_replayed_log_reaches_the_same_state_and_old_records_change_nothing() -> None:
    first, second = Run(), Run()
    allocate(first)
    allocate(second)
    assert first.now == second.now
    for record in (
        place(("A", 2), ("B", 1)),
        planned(1, ("east", (("A", 2),)), ("west", (("B", 1),))),
        capacity("east", True, 1.1),
    ):
        again = step(first.now, record, RULES)
        assert not again.changed and again.outputs.empty()


def test_another_channels_decision_on_an_orders_hold_id_is_not_the_orders() -> None:
    # A channel may name its own holds `o.<ref>.…`: the ledger keeps them apart from the
    # order's (ids are per channel), and the router sends their decisions to the order's
    # log by the id alone; the saga must not take one for its own hold's answer.
    run = Run()
    run(place(("A", 2)))
    run(planned(1, ("east", (("A", 2),))))
    [reserve] = run.reserves()
    run(capacity("east", True, 1.1))
    foreign = answer(reserve.model_copy(update={"channel": "market"}), True, 1.2)
    run(foreign)
    hold = run.now.find_hold(reserve.hold_id)
    assert not run.commits() and hold is not None and hold.status == "asked"
    run(answer(reserve, True, 1.3))
    assert [c.hold_id for c in run.commits()] == [reserve.hold_id]
