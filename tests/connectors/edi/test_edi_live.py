"""EDI round trips on the real stack: an ASN received becomes incoming stock folded by a
real worker (as `tally stock` shows it), a broken one produces nothing; the 846 we send
carries the channel's published figures, and the partner's 997 for it is read back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import redis.asyncio as aioredis

from base.redis_keys import ats_key
from base.settings import Settings
from connectors.edi.acknowledge import apply_acks, read_partner_acks
from connectors.edi.advise import advise, advise_changes, ensure_group
from connectors.edi.envelope import read_interchange
from connectors.edi.partner_state import PartnerState
from connectors.edi.partners import PartnerProfile
from connectors.edi.receive import receive
from connectors.inspect.stock import stock
from tests.connectors.edi.samples import acme, edi_settings, redated, sample
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, produce_json, read_all
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

FOLD_TIMEOUT_S = 60.0
T = TypeVar("T")


def profile_for(red: str, blue: str, dc: str, channel: str) -> PartnerProfile:
    items = {"AC-1001": red, "AC-1002": blue, "AC-1003": unique("G"), "AC-1004": unique("K")}
    locations = {"DC-EAST": dc, "DC-WEST": unique("dc")}
    return acme(items=items, locations=locations, channel=channel)


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str) -> T:
    deadline = asyncio.get_running_loop().time() + FOLD_TIMEOUT_S
    while not done(result := await probe()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {what}; last {result}"
        await asyncio.sleep(0.1)
    return result


async def incoming(settings: Settings, sku: str, location: str) -> tuple[int, int]:
    """(incoming, on_hand) at `location`, as `tally stock SKU` reports them."""
    report = await stock(settings, sku)
    row = next((r for r in report.locations if r.location == location), None)
    return (row.incoming, row.on_hand) if row else (0, 0)


def asn_file(tmp_path: Path, name: str) -> Path:
    # dated yesterday: the ledger refuses facts from more than 5 minutes ahead
    path = tmp_path / name
    path.write_text(redated(sample(name), datetime.now(UTC).date() - timedelta(days=1)))
    return path


async def test_an_asn_round_trip_and_an_846_with_its_997(
    isolated: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    red, blue, dc, channel = unique("W-RED"), unique("W-BLU"), unique("dc-east"), unique("ws")
    partner = profile_for(red, blue, dc, channel)
    settings = isolated.model_copy(update={"edi": edi_settings(tmp_path)})
    await produce_json(settings, settings.topics.policy, [channel_policy(channel, [dc])], "channel")
    await produce_json(settings, settings.topics.events, [
        fact(unique("e"), "received", red, dc, 40), fact(unique("e"), "received", blue, dc, 7)
    ])  # fmt: skip

    client = aioredis.Redis.from_url(settings.redis.url, decode_responses=True)
    try:
        await eventually(lambda: client.hget(ats_key(channel), blue), lambda v: v == "7", "7")
    finally:
        await client.aclose()

    # 856 in: the facts are folded, stock shows them incoming at the mapped location
    receipt = await receive(
        settings, partner, asn_file(tmp_path, "asn-good.x12"), datetime.now(UTC)
    )
    assert receipt.accepted, receipt.interchange.reasons()
    assert "AK5*A~\nAK9*A*1*1*1~" in receipt.ack_path.read_text()
    assert await eventually(lambda: incoming(settings, red, dc), lambda r: r == (30, 40), "red")
    assert await incoming(settings, blue, dc) == (12, 7), worker.log_tail()

    # the same file again is a no-op (same event ids); a later fact shows it was folded past
    again = await receive(settings, partner, asn_file(tmp_path, "asn-good.x12"), datetime.now(UTC))
    assert [f.event_id for f in again.facts] == [f.event_id for f in receipt.facts]
    await produce_json(
        settings, settings.topics.events, [fact(unique("e"), "received", red, dc, 1)]
    )
    assert await eventually(lambda: incoming(settings, red, dc), lambda r: r[1] == 41, "41") == (
        30,
        41,
    )

    # a broken ASN: a rejecting 997, and not one record on Kafka
    before = len(await read_all(settings, settings.topics.events))
    broken = await receive(
        settings, partner, asn_file(tmp_path, "asn-unknown-item.x12"), datetime.now(UTC)
    )
    assert not broken.accepted
    assert "AK4*3**7*AC-7777~\nAK5*R*5~\nAK9*R*1*1*0~" in broken.ack_path.read_text()
    assert len(await read_all(settings, settings.topics.events)) == before

    # 846 out: its quantities are the channel's published figures
    client = aioredis.Redis.from_url(settings.redis.url, decode_responses=True)
    try:
        await eventually(lambda: client.hget(ats_key(channel), red), lambda v: v == "41", "ats")
        advice = await advise(settings.edi, partner, client)
        assert advice is not None
        published = await client.hgetall(ats_key(channel))
        assert advice.figures == {red: 41, blue: 7} == {s: int(published[s]) for s in (red, blue)}
        sent = read_interchange(advice.path.read_text())
        assert sent.ok, sent.reasons()
        quantities = [s.elements for s in sent.groups[0].sets[0].body if s.tag in ("LIN", "QTY")]
        assert quantities == [
            ("1", "BP", "AC-1002", "SK", blue), ("33", "7", "EA"),
            ("2", "BP", "AC-1001", "SK", red), ("33", "41", "EA"),
        ] if blue < red else [
            ("1", "BP", "AC-1001", "SK", red), ("33", "41", "EA"),
            ("2", "BP", "AC-1002", "SK", blue), ("33", "7", "EA"),
        ]  # fmt: skip

        # the partner's 997 for it is read back and marks the set accepted
        group, (set_control,) = advice.controls.group, advice.controls.sets
        their_997 = sample("997-accepting-846.x12").replace("AK1*IB*12", f"AK1*IB*{group}")
        their_997 = their_997.replace("AK2*846*0012", f"AK2*846*{set_control}")
        interchange, found = read_partner_acks(their_997, partner, settings.edi)
        assert interchange.ok, interchange.reasons()
        (outcome,) = apply_acks(settings.edi, partner, found)
        assert outcome.verdicts == {set_control: "accepted"}
        state = PartnerState(settings.edi.state_dir, partner.name).sent()
        assert state[group].sets == {set_control: "accepted"}

        # on change: a new figure of the partner's SKU is advised alone
        await ensure_group(client, partner)
        await produce_json(
            settings, settings.topics.events, [fact(unique("e"), "received", red, dc, 5)]
        )
        await eventually(lambda: client.hget(ats_key(channel), red), lambda v: v == "46", "46")
        changed = await eventually(
            lambda: advise_changes(settings.edi, partner, client, block=False),
            lambda a: a is not None,
            "an 846 on change",
        )
        assert changed is not None
        assert changed.figures == {red: 46}
    finally:
        await client.aclose()
