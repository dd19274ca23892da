"""schemathesis against the gateway's own OpenAPI spec: no input makes it answer 5xx.

Kafka and Redis are faked (tests/connectors/test_gateway_fakes.py), so this runs in the
default tier with few examples per operation; the `slow` tier runs many more.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from base.settings import GatewaySettings, Settings
from connectors.gateway import create_app
from tests.connectors.test_gateway_fakes import FakeBus, FakeReads, make_keys

_keys = make_keys(Path(tempfile.mkdtemp(prefix="tally-schema-")) / "keys.json")
_app = create_app(
    Settings(gateway=GatewaySettings(requests_burst_per_key_max=100_000)),
    bus=FakeBus(),
    reads=FakeReads(),
    keys=_keys.store,
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)
ADMIN = _keys.bearer("admin")


def _check(case: Any) -> None:
    case.call_and_validate(headers=ADMIN, checks=[not_a_server_error])


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_gateway_fail(case: Any) -> None:
    _check(case)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_gateway_fail_long_run(case: Any) -> None:
    _check(case)
