"""The consumer group settings are checked where they are read, not at the consumer's start.

Faust's consumer refuses a session timeout above its broker_request_timeout (90 s) only once
the worker runs, and then crashes and restarts in a loop; Kafka refuses an instance id
outside its character set only when the group is joined."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from base.settings import SESSION_TIMEOUT_S_MAX, OrdersSettings, WorkerSettings


@pytest.mark.parametrize("settings", [WorkerSettings, OrdersSettings])
def test_a_session_timeout_past_faust_s_request_timeout_is_refused(settings: type) -> None:
    assert settings(session_timeout_s=SESSION_TIMEOUT_S_MAX).session_timeout_s == 90.0
    with pytest.raises(ValidationError, match="session_timeout_s"):
        settings(session_timeout_s=SESSION_TIMEOUT_S_MAX + 1)


@pytest.mark.parametrize("settings", [WorkerSettings, OrdersSettings])
def test_a_group_instance_id_is_off_by_default_and_kafka_s_characters_only(settings: type) -> None:
    assert settings().group_instance_id is None
    assert settings(group_instance_id="tally-worker-0.eu_1").group_instance_id
    for bad in ("", "worker 0", "worker/0", "w" * 250):
        with pytest.raises(ValidationError, match="group_instance_id"):
            settings(group_instance_id=bad)
