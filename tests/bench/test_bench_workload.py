"""The bench workload: each reserve is followed by its commit, sent as the reserving channel's."""

from __future__ import annotations

from devtools.bench.gen import Workload, sku_names


def test_every_commit_follows_its_reserve_on_the_same_sku_and_channel() -> None:
    workload = Workload(7, sku_names("w", 50), ["loc-a", "loc-b"], "web", command_share=0.3)
    items = list(workload.items(2_000))
    reserves = {
        i.body["hold_id"]: (n, i) for n, i in enumerate(items) if i.body.get("type") == "reserve"
    }
    commits = [(n, i) for n, i in enumerate(items) if i.body.get("type") == "commit"]
    assert len(commits) > 100
    for at, commit in commits:
        reserved_at, reserve = reserves[commit.body["hold_id"]]
        assert reserved_at < at
        assert commit.kind == reserve.kind == "commands"
        assert commit.body["sku"] == reserve.body["sku"] and commit.key == reserve.key
        # a channel's commit, as the gateway sends one: never the admin path (no channel)
        assert commit.body["channel"] == reserve.body["channel"] == "web"
