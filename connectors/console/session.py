"""The console's session cookie: the key's id and an expiry, signed with HMAC-SHA256.

The cookie never holds the API key. The server's secret comes from settings, or for the local
dev stack is generated once into `settings.console.secret_file` (owner-readable only). A
session names its key's `key_id`; revoking the key (`tally keys remove`) ends the session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from base.settings import ConsoleSettings

COOKIE_NAME = "tally_console"
SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class Session:
    key_id: str
    expires_at: int  # Unix seconds


def console_secret(settings: ConsoleSettings) -> bytes:
    """The configured secret, else the one in `secret_file` (created on first use)."""
    configured = settings.session_secret.get_secret_value()
    if configured:
        return configured.encode()
    return _file_secret(settings.secret_file)


def _file_secret(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_urlsafe(SECRET_BYTES).encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, fresh)
    finally:
        os.close(descriptor)
    return fresh


def sign(session: Session, secret: bytes) -> str:
    body = _b64(orjson.dumps({"k": session.key_id, "e": session.expires_at}))
    return f"{body}.{_b64(_mac(body, secret))}"


def verify(cookie: str, secret: bytes, now_s: float | None = None) -> Session | None:
    """The session a cookie carries, or None if it is forged, malformed or expired."""
    body, _, mac = cookie.partition(".")
    if not body or not hmac.compare_digest(mac, _b64(_mac(body, secret))):
        return None
    try:
        fields = orjson.loads(_unb64(body))
        session = Session(str(fields["k"]), int(fields["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    now = time.time() if now_s is None else now_s
    return session if session.expires_at > now else None


def _mac(body: str, secret: bytes) -> bytes:
    return hmac.new(secret, body.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
