"""base.settings RedisSettings: no default password outside the local dev stack."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import SecretStr, ValidationError

from base.settings import LOCAL_DEV_REDIS_PASSWORD, REPO_ROOT, RedisSettings, Settings


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_a_loopback_redis_without_a_password_is_the_local_dev_stacks(host: str) -> None:
    settings = RedisSettings(host=host)
    assert settings.password.get_secret_value() == ""  # no default password
    assert settings.secret() == LOCAL_DEV_REDIS_PASSWORD


@pytest.mark.parametrize("host", ["redis", "redis.invalid", "10.0.0.5", "2001:db8::1"])
def test_any_other_redis_without_a_password_is_refused(host: str) -> None:
    with pytest.raises(ValidationError, match="TALLY_REDIS__PASSWORD is empty"):
        RedisSettings(host=host)
    given = RedisSettings(host=host, password=SecretStr("s3cret/@:x"))
    assert given.secret() == "s3cret/@:x"
    assert given.url == f"redis://:s3cret%2F%40%3Ax@{host}:6379/0"


def test_a_process_pointed_at_another_redis_without_a_password_refuses_to_start() -> None:
    # Refused when the settings are read, before anything connects (redis.invalid never
    # resolves: RFC 2606).
    env = {"PATH": "/usr/bin:/bin", "TALLY_REDIS__HOST": "redis.invalid"}
    result = subprocess.run(
        [sys.executable, "-m", "connectors.gateway"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "TALLY_REDIS__PASSWORD is empty" in result.stdout + result.stderr
    assert Settings().redis.secret() == LOCAL_DEV_REDIS_PASSWORD
