"""The console's pure parts: the signed session cookie, the policy preview's figures (checked
against the ledger's own channel figure after the change), and the record a policy form
saves (the current record with the form's fields changed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from base.settings import ConsoleSettings
from connectors.console.preview import figure_changes, touched_locations
from connectors.console.routes.policy import form_record
from connectors.console.session import Session, console_secret, sign, verify
from ledger.availability import channel_ats
from ledger.fold import fold
from ledger.policy import ChannelPolicy, ShippingBandRecord, apply_policy
from ledger.state import SkuState
from tests.support.ledger_builders import SKU, book, channel, fact

SECRET = b"s" * 32


def test_a_signed_session_verifies_and_a_forged_or_expired_one_does_not() -> None:
    cookie = sign(Session("k1", expires_at=2_000), SECRET)
    assert verify(cookie, SECRET, now_s=1_000) == Session("k1", 2_000)
    assert verify(cookie, SECRET, now_s=2_000) is None  # expired
    assert verify(cookie, b"t" * 32, now_s=1_000) is None  # another server's secret
    _, _, mac = cookie.partition(".")
    forged = sign(Session("admin-key", 2_000), b"guess").split(".")[0] + "." + mac
    assert verify(forged, SECRET, now_s=1_000) is None
    assert verify("not-a-cookie", SECRET) is None


def test_the_dev_secret_is_generated_once_owner_only(tmp_path: Path) -> None:
    settings = ConsoleSettings(secret_file=tmp_path / "secret")
    first = console_secret(settings)
    assert console_secret(settings) == first and len(first) >= 32
    assert (tmp_path / "secret").stat().st_mode & 0o077 == 0
    configured = ConsoleSettings(session_secret=SecretStr("x" * 40), secret_file=tmp_path / "b")
    assert console_secret(configured) == b"x" * 40 and not (tmp_path / "b").exists()


def test_the_preview_shows_what_the_ledger_figures_after_the_change() -> None:
    state = fold([fact("received", "A", 5), fact("received", "B", 3)], SkuState.empty(SKU))
    other = fold([fact("received", "C", 9)], SkuState.empty(SKU))._replace(sku="SKU-2")
    old = book(channel("web", "A"))
    new = apply_policy(old, channel("web", "A", "B", buffer_units=1, version=2))
    assert touched_locations(old, new) == {"A", "B"}
    changes = figure_changes([state, other], old, new)
    assert [(c.sku, c.kind, c.name, c.before, c.after, c.delta) for c in changes] == [
        (SKU, "channel", "web", 5, 7, 2)
    ]
    assert changes[0].after == channel_ats(state, new.channels["web"], new)


FORM = {"locations": "A\nC", "buffer_units": "4", "allocation_cap_units": "9"}
EDITED = {"locations", "buffer_units", "allocation_cap_units", "version", "updated_at"}


def test_saving_a_channel_keeps_every_field_the_form_does_not_edit() -> None:
    current = ChannelPolicy(
        channel="web",
        locations=("A", "B"),
        buffer_units=1,
        pickup_locations=("B",),
        strategy="most_available",
        sourcing_rules=("exclude_over_capacity", "lowest_cost", "closest"),
        max_shipments=1,
        allow_partial=True,
        shipping_bands=(ShippingBandRecord(up_to_km=10, cents=300), ShippingBandRecord(cents=900)),
        low_stock_units=3,
        version=5,
        updated_at=datetime(2026, 12, 5, tzinfo=UTC),
    )
    saved = form_record("channel", "web", FORM, current)
    assert isinstance(saved, ChannelPolicy)
    assert (saved.locations, saved.buffer_units, saved.allocation_cap_units) == (("A", "C"), 4, 9)
    assert saved.model_dump(exclude=EDITED) == current.model_dump(exclude=EDITED)
    assert saved.version > current.version


def test_a_new_channel_saved_from_the_form_takes_the_defaults() -> None:
    saved = form_record("channel", "new", FORM, None)
    default = ChannelPolicy(channel="new", locations=(), version=1, updated_at=datetime.now(UTC))
    assert saved.model_dump(exclude=EDITED) == default.model_dump(exclude=EDITED)
