"""Standard Webhooks signatures (standard-webhooks/standard-webhooks, spec/standard-webhooks.md).

Signed content is "{webhook-id}.{webhook-timestamp}.{body}"; the signature header is a
space-separated list of "v1,<base64 HMAC-SHA256>"; secrets are written "whsec_<base64 key>",
with or without base64's "=" padding (the official libraries accept both).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
TOLERANCE_S = 5 * 60


class SignatureError(ValueError):
    pass


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise SignatureError("webhook secret must start with 'whsec_'")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except ValueError as error:
        raise SignatureError("webhook secret is not base64 after 'whsec_'") from error
    if not key:
        raise SignatureError("webhook secret is empty")
    return key


def sign(key: bytes, message_id: str, timestamp_s: int, body: bytes) -> str:
    """The `webhook-signature` header value: "v1,<base64 HMAC-SHA256>"."""
    content = f"{message_id}.{timestamp_s}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(key: bytes, message_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": sign(key, message_id, timestamp_s, body),
    }


def verify(key: bytes, received: dict[str, str], body: bytes, *, now_s: int) -> None:
    """What a receiver does; raises SignatureError. Used by tests and the fake receiver."""
    try:
        message_id = received["webhook-id"]
        timestamp_s = int(received["webhook-timestamp"])
        signatures = received["webhook-signature"].split(" ")
    except (KeyError, ValueError) as error:
        raise SignatureError(f"missing or bad header: {error}") from error
    if abs(now_s - timestamp_s) > TOLERANCE_S:
        raise SignatureError("timestamp outside the tolerance")
    expected = sign(key, message_id, timestamp_s, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("no matching v1 signature")
