"""A fake Selling Partner API (Listings Items patchListingsItem) and Login with Amazon.

Every PATCH body is validated against ListingsItemPatchRequest from Amazon's model (the
JSON schema beside this file) and the fulfillment_availability value against the shape
Amazon documents for the attribute; every answer it gives is validated against the model's
response definitions too. It enforces the access token, a token bucket (429 past it, the
`x-amzn-RateLimit-Limit` header on answers), and keeps the quantity per (seller SKU,
marketplace). Faults (server.py) plus "invalid" (200 INVALID with an ERROR issue) and
"403". The token endpoint (POST /auth/o2/token) trades REFRESH_TOKEN for access tokens.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema
from pydantic import SecretStr

from tests.connectors.fakes.server import FakeServer, plain_fault

SCHEMA = json.loads((Path(__file__).parent / "listings_items_2021-08-01.schema.json").read_text())
SELLER_ID = "A2EXAMPLESELLER"
MARKETPLACES = ("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2")
CLIENT_ID = "amzn1.application-oa2-client.fake"
CLIENT_SECRET = "fake-client-secret"
REFRESH_TOKEN = "Atzr|fake-refresh-token"
TOKEN_PATH = "/auth/o2/token"
ITEM_PATH = re.compile(r"^/listings/2021-08-01/items/([^/?]+)/([^/?]+)$")
VALUE_KEYS = {"fulfillment_channel_code", "quantity", "marketplace_id"}
UNAUTHORIZED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "The access token you provided is revoked, malformed or invalid.",
        }
    ]
}


def validator(definition: str) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator({**SCHEMA, "$ref": f"#/definitions/{definition}"})


PATCH_REQUEST = validator("ListingsItemPatchRequest")
SUBMISSION_RESPONSE = validator("ListingsItemSubmissionResponse")
ERROR_LIST = validator("ErrorList")


class FakeAmazon(FakeServer):
    def __init__(
        self,
        *,
        rate_per_s: float = 1_000.0,
        burst: int = 1_000,
        expires_in_s: int = 3_600,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.rate_per_s, self.burst, self.expires_in_s = rate_per_s, burst, expires_in_s
        self.rate_header = True  # answer x-amzn-RateLimit-Limit
        self.quantities: dict[tuple[str, str], int] = {}  # (seller sku, marketplace) -> qty
        self.history: dict[str, list[int]] = {}  # seller sku -> every quantity set, in order
        self.patches = 0  # well-formed, authorised PATCH requests
        self.throttled = 0  # 429s the bucket answered
        self.token_requests = 0
        self.tokens: set[str] = set()
        self.revoked: set[str] = set()
        self._tokens_left = float(burst)
        self._bucket_at = time.monotonic()
        self._state_lock = threading.Lock()

    def takes_faults(self, path: str) -> bool:
        return not path.startswith(TOKEN_PATH)  # faults are the Listings API's

    def answer(
        self, path: str, headers: dict[str, str], body: bytes, fault: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        url = urlsplit(path)
        if url.path == TOKEN_PATH:
            return self._token(headers, body)
        match = ITEM_PATH.match(url.path)
        if match is None or headers.get(":method") != "PATCH":
            self.violation(f"{headers.get(':method')} {path}")
            return 404, {"errors": [{"code": "NotFound", "message": "no such resource"}]}, {}
        token = headers.get("x-amz-access-token")
        if fault == "403" or token not in self.tokens or token in self.revoked:
            return self._checked(403, UNAUTHORIZED)
        limit = {"x-amzn-RateLimit-Limit": f"{self.rate_per_s:g}"} if self.rate_header else {}
        if not self._take():
            self.throttled += 1
            return self._checked(429, _errors("QuotaExceeded", "You exceeded your quota."))
        failure = plain_fault(fault)
        if failure is not None:
            status, _, extra = failure
            return self._checked(status, _errors("InternalFailure", f"fake {status}"), extra)
        seller_id, sku = unquote(match.group(1)), unquote(match.group(2))
        marketplace = self._marketplace(parse_qs(url.query), seller_id)
        quantity = self._quantity(orjson_loads(body), marketplace)
        if quantity is None or marketplace is None:
            return self._checked(400, _errors("InvalidInput", "request does not match the model"))
        if fault == "invalid":
            issue = {"code": "8541", "message": "fake invalid value", "severity": "ERROR"}
            return self._checked(200, _submission(sku, "INVALID", [issue]), limit)
        with self._state_lock:
            self.patches += 1
            self.quantities[(sku, marketplace)] = quantity
            self.history.setdefault(sku, []).append(quantity)
        return self._checked(200, _submission(sku, "ACCEPTED", []), limit)

    def revoke_tokens(self) -> None:
        with self._state_lock:
            self.revoked |= self.tokens

    def _token(self, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if headers.get(":method") != "POST" or not headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            self.violation(f"token request {headers.get(':method')} {headers.get('content-type')}")
        if form.get("grant_type") != "refresh_token":
            self.violation(f"grant_type {form.get('grant_type')}")
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return (
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                {},
            )
        if form.get("refresh_token") != REFRESH_TOKEN:
            description = "The request has an invalid grant parameter : refresh_token"
            return 400, {"error": "invalid_grant", "error_description": description}, {}
        token = "Atza|" + uuid.uuid4().hex
        with self._state_lock:
            self.token_requests += 1
            self.tokens.add(token)
        reply = {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in_s}
        return 200, {**reply, "refresh_token": REFRESH_TOKEN}, {}

    def _marketplace(self, query: dict[str, list[str]], seller_id: str) -> str | None:
        marketplaces = query.get("marketplaceIds", [""])[0].split(",")
        if seller_id != SELLER_ID:
            self.violation(f"seller id {seller_id}")
        if len(marketplaces) != 1 or marketplaces[0] not in MARKETPLACES:
            self.violation(f"marketplaceIds {query.get('marketplaceIds')}")
            return None
        if query.get("issueLocale", ["en_US"])[0] != "en_US":
            self.violation(f"issueLocale {query.get('issueLocale')}")
        return marketplaces[0]

    def _quantity(self, request: Any, marketplace: str | None) -> int | None:
        """The quantity a patch request sets, or None (a violation) when it is not the model's."""
        problems = [e.message for e in PATCH_REQUEST.iter_errors(request)]
        if problems:
            self.violation(f"ListingsItemPatchRequest: {problems}")
            return None
        [patch] = request["patches"] if len(request["patches"]) == 1 else [None]
        if patch is None or (patch["op"], patch["path"]) != (
            "replace",
            "/attributes/fulfillment_availability",
        ):
            self.violation(f"patches {request['patches']}")
            return None
        value = patch.get("value") or []
        if len(value) != 1 or not set(value[0]) <= VALUE_KEYS:
            self.violation(f"fulfillment_availability value {value}")
            return None
        entry = value[0]
        quantity = entry.get("quantity")
        if entry.get("fulfillment_channel_code") != "DEFAULT" or not _count(quantity):
            self.violation(f"fulfillment_availability value {value}")
            return None
        if "marketplace_id" in entry and entry["marketplace_id"] != marketplace:
            self.violation(f"marketplace_id {entry['marketplace_id']} for {marketplace}")
        return int(quantity)

    def _take(self) -> bool:
        with self._state_lock:
            now = time.monotonic()
            refill = (now - self._bucket_at) * self.rate_per_s
            self._tokens_left = min(float(self.burst), self._tokens_left + refill)
            self._bucket_at = now
            if self._tokens_left < 1.0:
                return False
            self._tokens_left -= 1.0
            return True

    def _checked(
        self, status: int, payload: Any, extra: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        """Every answer is the model's own: a submission response or an error list."""
        schema = SUBMISSION_RESPONSE if status == 200 else ERROR_LIST
        problems = [e.message for e in schema.iter_errors(payload)]
        assert not problems, f"the fake answered off-model: {problems}"
        return status, payload, extra or {}


def orjson_loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _errors(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}


def _submission(sku: str, status: str, issues: list[dict[str, str]]) -> dict[str, Any]:
    return {"sku": sku, "status": status, "submissionId": uuid.uuid4().hex, "issues": issues}


def amazon_overrides(url: str) -> dict[str, Any]:
    """PusherSettings fields that point an Amazon pusher at a FakeAmazon on `url`."""
    return {
        "amazon_endpoint": url,
        "amazon_lwa_token_url": url + TOKEN_PATH,
        "amazon_seller_id": SELLER_ID,
        "amazon_marketplace_ids": MARKETPLACES[:1],
        "amazon_lwa_client_id": CLIENT_ID,
        "amazon_lwa_client_secret": SecretStr(CLIENT_SECRET),
        "amazon_lwa_refresh_token": SecretStr(REFRESH_TOKEN),
    }
