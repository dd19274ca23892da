"""Who is asking: the bearer API key as a FastAPI dependency, and the role checks routes use.

`Principal` resolves the key (401 unknown or missing) and takes a rate-limit token (429 with
Retry-After); the `require_*` checks answer 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from connectors.auth import KeyRecord
from connectors.gateway.state import StateDep

bearer = HTTPBearer(auto_error=False, description="An API key: `tly_...`")


async def principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    state: StateDep,
) -> KeyRecord:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer API key", {"WWW-Authenticate": "Bearer"})
    record = state.keys.lookup(credentials.credentials)
    if record is None:
        raise HTTPException(401, "unknown API key", {"WWW-Authenticate": "Bearer"})
    wait_s = state.limiter.take(record.key_id)
    if wait_s > 0:
        retry = str(max(1, int(wait_s + 0.999)))
        raise HTTPException(429, "rate limit exceeded for this key", {"Retry-After": retry})
    return record


Principal = Annotated[KeyRecord, Depends(principal)]


def require_admin(who: KeyRecord) -> None:
    if not who.is_admin:
        raise HTTPException(403, "an admin key is required")


def require_scanner(who: KeyRecord) -> None:
    if not (who.is_admin or who.role == "scanner"):
        raise HTTPException(403, "a scanner or admin key is required")


def require_channel(who: KeyRecord, channel: str) -> None:
    if not who.may_use_channel(channel):
        raise HTTPException(403, f"this key may not use channel {channel!r}")


def require_any_channel(who: KeyRecord) -> None:
    if not (who.is_admin or who.channel is not None):
        raise HTTPException(403, "a channel or admin key is required")
