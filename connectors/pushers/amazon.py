"""Amazon pusher: Selling Partner API Listings Items `patchListingsItem`, 2021-08-01.

One PATCH per seller SKU and marketplace:

    PATCH {endpoint}/listings/2021-08-01/items/{sellerId}/{sku}?marketplaceIds=M&issueLocale=L
    {"productType": P, "patches": [{"op": "replace",
      "path": "/attributes/fulfillment_availability",
      "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": N}]}]}

with `x-amz-access-token` from Login with Amazon (lwa.py). Setting an absolute quantity
is idempotent, so a retry — also one after a crash, before our bookkeeping was written —
sets the same number again. Requests are paced by a token bucket at the documented usage
plan (amazon_rate_per_s / amazon_burst), adopting the `x-amzn-RateLimit-Limit` the API
answers; 429 empties the bucket and backs off. 5xx, timeouts and a failing token endpoint
are retried with backoff up to `attempts_max`. 200 ACCEPTED is delivered (its WARNING
issues logged); INVALID with ERROR issues, 400, 404, 413 and 415 are dead-lettered,
except issue codes listed in `amazon_retry_issue_codes`. 401/403 after one token refresh,
and a refused refresh token, are bad credentials: the pusher stops, nothing is acked.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import orjson
import yaml

from base.settings import PusherSettings
from connectors.metrics import PUSHER_PUSH_LATENCY
from connectors.pushers.backoff import backoff_s, retry_after_s
from connectors.pushers.changes import Change, Outcome, PushedFigure
from connectors.pushers.http_sink import GiveUp, HttpSink, Tries, configured
from connectors.pushers.keys import PusherKind
from connectors.pushers.lwa import LwaTokens, TokenUnavailable
from connectors.pushers.rate import TokenBucket
from connectors.pushers.stops import BadCredentials
from connectors.pushers.transport import Answer, Sleep, json_object, real_sleep
from connectors.pushers.verdicts import Accepted, Failed, Refused, Throttled, Verdict

logger = logging.getLogger("tally.pusher")

API_PATH = "/listings/2021-08-01/items"
ATTRIBUTE_PATH = "/attributes/fulfillment_availability"
FULFILLMENT_CHANNEL = "DEFAULT"  # merchant-fulfilled; FBA quantities are Amazon's own
REFUSED_STATUSES = frozenset({400, 404, 413, 415})


class SellerSkus:
    """Tally SKU -> Amazon seller SKU; a SKU not listed is its own seller SKU."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self._mapping = dict(mapping or {})

    def seller_sku(self, sku: str) -> str:
        return self._mapping.get(sku, sku)

    @classmethod
    def load(cls, path: Path | None) -> SellerSkus:
        if path is None:
            return cls()
        text = path.read_text()
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in raw.items()
        ):
            raise ValueError(f"{path}: want a mapping of SKU -> seller SKU")
        return cls(raw)


def patch_body(product_type: str, quantity: int) -> dict[str, Any]:
    """The ListingsItemPatchRequest setting the merchant-fulfilled quantity."""
    value = [{"fulfillment_channel_code": FULFILLMENT_CHANNEL, "quantity": quantity}]
    return {
        "productType": product_type,
        "patches": [{"op": "replace", "path": ATTRIBUTE_PATH, "value": value}],
    }


def patch_url(endpoint: str, seller_id: str, seller_sku: str, marketplace: str, locale: str) -> str:
    query = urlencode({"marketplaceIds": marketplace, "issueLocale": locale})
    path = f"{API_PATH}/{quote(seller_id, safe='')}/{quote(seller_sku, safe='')}"
    return f"{endpoint.rstrip('/')}{path}?{query}"


def issues_verdict(payload: Mapping[str, Any], retry_codes: frozenset[str]) -> Verdict[None]:
    """What a 200's ListingsItemSubmissionResponse means: its status and ERROR issues."""
    issues = [i for i in payload.get("issues") or [] if isinstance(i, dict)]
    errors = [i for i in issues if i.get("severity") == "ERROR"]
    if payload.get("status") == "ACCEPTED" and not errors:
        for issue in issues:
            logger.info(
                "amazon %s: %s %s", payload.get("sku"), issue.get("code"), issue.get("message")
            )
        return Accepted(None)
    described = "; ".join(f"{i.get('code')} {i.get('message')}" for i in errors)
    if errors and all(str(i.get("code")) in retry_codes for i in errors):
        return Failed("rejected", f"retryable issues: {described}")
    return Refused(f"rejected: {payload.get('status')}: {described or 'no ERROR issue'}"[:1_000])


class AmazonSink(HttpSink[None]):
    name: PusherKind = "amazon"

    def __init__(
        self,
        settings: PusherSettings,
        channel: str,
        seller_skus: SellerSkus | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = real_sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seller_id = configured(settings.amazon_seller_id, "TALLY_PUSHER__AMAZON_SELLER_ID")
        if not settings.amazon_marketplace_ids:
            raise ValueError("set TALLY_PUSHER__AMAZON_MARKETPLACE_IDS (a JSON list)")
        super().__init__(settings, channel, batch_max=1, client=client, sleep=sleep)
        self._seller_skus = seller_skus or SellerSkus()
        self._tokens = LwaTokens(settings, self._client, clock)
        self._bucket = TokenBucket(settings.amazon_rate_per_s, settings.amazon_burst, clock)
        self._retry_codes = frozenset(settings.amazon_retry_issue_codes)
        self._token_refused = False  # one 401/403 refreshes the token; a second one stops

    @property
    def token_refreshes(self) -> int:
        return self._tokens.refreshes

    async def push(
        self, changes: Sequence[Change], pushed: Mapping[str, PushedFigure]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for change in changes:
            outcomes += await self._push_figure(change)
        return outcomes

    async def _push_figure(self, change: Change) -> list[Outcome]:
        """Set the figure in every marketplace; dead-lettered when any marketplace refuses."""
        settings = self._settings
        content = orjson.dumps(patch_body(settings.amazon_product_type, change.available))
        seller_sku = self._seller_skus.seller_sku(change.sku)
        for marketplace in settings.amazon_marketplace_ids:
            url = patch_url(
                settings.amazon_endpoint,
                self._seller_id,
                seller_sku,
                marketplace,
                settings.amazon_issue_locale,
            )
            tries = Tries()
            try:
                await self._call(url, content, lambda: {"content-type": "application/json"}, tries)
            except GiveUp as give_up:
                return self._dead([change], f"{marketplace}: {give_up.reason}", tries.posts)
        return self._delivered([change])

    async def _send(self, url: str, content: bytes, headers: dict[str, str]) -> Answer:
        """Pace, authenticate and PATCH; a failing token endpoint is a transient failure."""
        await self._sleep(self._bucket.take())
        try:
            token = await self._tokens.token()
        except TokenUnavailable as unavailable:
            return Answer(None, b"", None, "http", f"token: {unavailable}")
        started = time.perf_counter()
        try:
            response = await self._client.patch(
                url, content=content, headers={**headers, "x-amz-access-token": token}
            )
        except httpx.TimeoutException as error:
            return Answer(None, b"", None, "timeout", type(error).__name__)
        except httpx.HTTPError as error:
            return Answer(None, b"", None, "http", f"{type(error).__name__}: {error}")
        finally:
            PUSHER_PUSH_LATENCY.labels(self.name).observe(time.perf_counter() - started)
        self._adopt_rate(response.headers.get("x-amzn-ratelimit-limit"))
        return Answer(response.status_code, response.content, response.headers.get("retry-after"))

    def _judge(self, answer: Answer) -> Verdict[None]:
        status = answer.status
        if status is None or status >= 500:
            kind = answer.error or "http"
            return Failed(kind, f"{kind}: {answer.detail or f'HTTP {status}'}")
        if status in (401, 403):
            return self._refused_credentials(answer)
        self._token_refused = False
        if status == 429:
            self._bucket.empty()
            return Throttled("throttled: HTTP 429", answer.retry_after)
        payload = json_object(answer.body)
        if status == 200 and payload is not None:
            return issues_verdict(payload, self._retry_codes)
        return Refused(f"rejected: HTTP {status}: {_errors(payload) or answer.body[:200]!r}")

    def _refused_credentials(self, answer: Answer) -> Verdict[None]:
        """The first refusal may be a token revoked early: refresh it and try once more."""
        detail = _errors(json_object(answer.body)) or f"HTTP {answer.status}"
        if self._token_refused:
            raise BadCredentials(f"Selling Partner API refused the access token: {detail}")
        self._token_refused = True
        self._tokens.forget()
        return Failed("rejected", f"HTTP {answer.status}: {detail}")

    def _after_throttle(self, throttle: Throttled, tries: Tries) -> float:
        settings = self._settings
        if tries.throttles > settings.amazon_throttles_max:
            raise GiveUp(f"throttled: gave up after {tries.throttles - 1} waits")
        hinted = retry_after_s(throttle.retry_after, max_s=settings.backoff_max_s)
        floor_s = 1.0 / self._bucket.rate_per_s
        waited = backoff_s(tries.throttles, base_s=floor_s, max_s=settings.backoff_max_s)
        return max(floor_s, hinted or 0.0, waited)

    def _after_failure(self, failure: Failed, tries: Tries) -> float:
        if tries.failures >= self._settings.attempts_max:
            raise GiveUp(f"attempts exhausted; last: {failure.last}")
        return 0.0 if self._token_refused else self._backoff(tries.failures)

    def _adopt_rate(self, header: str | None) -> None:
        try:
            rate = float(header) if header else 0.0
        except ValueError:
            return
        if rate > 0 and rate != self._bucket.rate_per_s:
            logger.info("amazon: x-amzn-RateLimit-Limit %.3g req/s adopted", rate)
            self._bucket.set_rate(rate)


def _errors(payload: Mapping[str, Any] | None) -> str:
    """The codes and messages of an ErrorList body."""
    errors = (payload or {}).get("errors")
    if not isinstance(errors, list):
        return ""
    return "; ".join(f"{e.get('code')} {e.get('message')}" for e in errors if isinstance(e, dict))
