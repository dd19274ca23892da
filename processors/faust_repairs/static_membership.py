"""Static group membership (Kafka's `group.instance.id`, KIP-345) for the worker's consumer.

faust-streaming 0.15 builds its consumer without an instance id, so every worker joins its
group as a new member. A worker killed (-9) and started again then waits for the broker to
time out the dead member's session (`session_timeout_s`, 10 s by default) before the group
rebalances and the partitions are handed out again: sync stands still that long. A consumer
with an instance id replaces its earlier self at once when it rejoins.

The cost: a static member never leaves its group on a clean stop (aiokafka sends no
LeaveGroup for one), so a worker stopped for good keeps its partitions unowned until its
session times out. Each worker needs an id of its own that stays with it across restarts
(a StatefulSet pod's name, a systemd instance name); two live workers with one id fence
each other. Off unless an id is set.
"""

from __future__ import annotations

from typing import Any

from processors.faust_repairs import consumer_factory

_INSTANCE_ID = "_tally_group_instance_id"
_INSTALLED = "_tally_static_membership_installed"


def set_instance_id(app: Any, instance_id: str | None) -> None:
    """The instance id `app`'s consumer joins its group with (None: a dynamic member)."""
    setattr(app, _INSTANCE_ID, instance_id)


def install() -> None:
    """Wrap the consumer factory (idempotent): an app given an id gets a static consumer."""
    consumer_factory.wrap(_INSTALLED, _set_instance_id)


def _set_instance_id(app: Any, consumer: Any) -> None:
    instance_id = getattr(app, _INSTANCE_ID, None)
    if instance_id is not None:
        # read by AIOKafkaConsumer.start() when it builds its group coordinator
        consumer._group_instance_id = instance_id
