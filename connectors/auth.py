"""Gateway API keys: stored hashed in a keys file, roles, per-key token buckets, `tally keys`.

A key is `tly_{key_id}_{secret}` with 256 random bits of secret. The keys file keeps only its
SHA-256 (a salted slow hash buys nothing for a 256-bit random secret), as a JSON list:

    [{"key_id": "k1a2b3", "sha256": "<hex>", "role": "scanner", "locations": ["store-1"]}]

Roles: `scanner` (post facts, only at `locations` when given), `channel:NAME` (read NAME's
availability and hold for NAME), `admin` (everything). Keys never reach a log: only key_id.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator

from base.settings import Settings, get_settings
from ledger import limits
from ledger.fields import LocationId

KEY_PREFIX = "tly_"
SECRET_BYTES = 32
KEYS_MAX = 10_000
ROLE_PATTERN = r"^(scanner|admin|channel:[A-Za-z0-9\-_.:/]{1,64})$"

KeyId = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9]+$")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Role = Annotated[str, StringConstraints(pattern=ROLE_PATTERN)]


class KeyRecord(BaseModel):
    """One stored API key (the keys file holds a list of these)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: KeyId
    sha256: Sha256Hex
    role: Role
    locations: tuple[LocationId, ...] | None = Field(
        default=None, max_length=limits.LOCATIONS_PER_CHANNEL_MAX
    )

    @model_validator(mode="after")
    def _locations_for_scanners_only(self) -> KeyRecord:
        if self.locations is not None and self.role != "scanner":
            raise ValueError("locations: only a scanner key is limited to locations")
        return self

    @property
    def channel(self) -> str | None:
        """The channel of a `channel:NAME` key."""
        return self.role.removeprefix("channel:") if self.role.startswith("channel:") else None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_post_at(self, location: str) -> bool:
        if self.is_admin:
            return True
        if self.role != "scanner":
            return False
        return self.locations is None or location in self.locations

    def may_use_channel(self, channel: str) -> bool:
        return self.is_admin or self.channel == channel


_KEYS: TypeAdapter[list[KeyRecord]] = TypeAdapter(
    Annotated[list[KeyRecord], Field(max_length=KEYS_MAX)]
)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(role: str, locations: Iterable[str] | None = None) -> tuple[str, KeyRecord]:
    """A fresh key (shown once) and the record to store for it."""
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    record = KeyRecord(
        key_id=key_id,
        sha256=hash_key(key),
        role=role,
        locations=None if locations is None else tuple(locations),
    )
    return key, record


def load_keys(path: Path) -> dict[str, KeyRecord]:
    """sha256 -> record; a missing file is no keys (every request is then refused)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    return {record.sha256: record for record in _KEYS.validate_json(raw)}


def save_keys(path: Path, records: Iterable[KeyRecord]) -> None:
    """Write atomically (temp file + rename), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    payload = [record.model_dump(exclude_none=True) for record in records]
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


class KeyStore:
    """The keys file, re-read at most every `reload_s` when its mtime changed."""

    def __init__(self, path: Path, reload_s: float) -> None:
        self._path = path
        self._reload_s = reload_s
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._mtime_ns: int | None = None
        self._by_hash: Mapping[str, KeyRecord] = {}
        self._refresh(force=True)

    def lookup(self, key: str) -> KeyRecord | None:
        self._refresh(force=False)
        return self._by_hash.get(hash_key(key))

    def by_key_id(self, key_id: str) -> KeyRecord | None:
        """The record of a key still in the file (a console session names its key_id)."""
        self._refresh(force=False)
        return next((r for r in self._by_hash.values() if r.key_id == key_id), None)

    def _refresh(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < self._reload_s:
            return
        with self._lock:
            self._checked_at = now
            try:
                mtime_ns: int | None = self._path.stat().st_mtime_ns
            except FileNotFoundError:
                mtime_ns = None
            if force or mtime_ns != self._mtime_ns:
                self._by_hash = load_keys(self._path)
                self._mtime_ns = mtime_ns


@dataclass
class TokenBucket:
    rate_per_s: float
    burst: int
    tokens: float = field(init=False)
    updated_s: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now_s: float) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        elapsed = max(0.0, now_s - self.updated_s)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate_per_s)
        self.updated_s = now_s
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate_per_s


class RateLimiter:
    """One token bucket per key_id (bounded by the number of keys: KEYS_MAX)."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self._rate_per_s = rate_per_s
        self._burst = burst
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key_id: str) -> float:
        bucket = self._buckets.get(key_id)
        if bucket is None:
            if len(self._buckets) >= KEYS_MAX:
                self._buckets.clear()  # only reachable if keys were rotated many times
            bucket = self._buckets[key_id] = TokenBucket(self._rate_per_s, self._burst)
        return bucket.take(time.monotonic())


# --- `tally keys ...` ---------------------------------------------------------------------

keys_app = typer.Typer(help="Gateway API keys (stored hashed in settings.gateway.keys_file).")


@keys_app.command("add")
def add_key(
    role: Annotated[str, typer.Option(help="scanner | channel:NAME | admin")],
    location: Annotated[
        list[str] | None,
        typer.Option("--location", help="scanner only: allowed location (repeatable)"),
    ] = None,
) -> None:
    """Create a key, store its hash and print the key once (it cannot be shown again)."""
    settings: Settings = get_settings()
    path = settings.gateway.keys_file
    try:
        key, record = new_key(role, location or None)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    records = list(load_keys(path).values())
    save_keys(path, [*records, record])
    typer.echo(f"key_id: {record.key_id}  role: {record.role}  file: {path}", err=True)
    typer.echo(key)


@keys_app.command("list")
def list_keys() -> None:
    """key_id and role of every stored key (never the key)."""
    for record in load_keys(get_settings().gateway.keys_file).values():
        where = f"  locations: {','.join(record.locations)}" if record.locations else ""
        typer.echo(f"{record.key_id}  {record.role}{where}")


@keys_app.command("remove")
def remove_key(key_id: Annotated[str, typer.Argument(help="the key_id to revoke")]) -> None:
    """Revoke a key by its key_id."""
    path = get_settings().gateway.keys_file
    records = list(load_keys(path).values())
    kept = [record for record in records if record.key_id != key_id]
    if len(kept) == len(records):
        typer.echo(f"error: no key {key_id}", err=True)
        raise typer.Exit(1)
    save_keys(path, kept)
    typer.echo(f"removed {key_id}")
