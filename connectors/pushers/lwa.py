"""Login with Amazon: a refresh token exchanged for short-lived SP-API access tokens.

POST {amazon_lwa_token_url} grant_type=refresh_token (form-encoded) answers
{access_token, token_type, expires_in}; the token is cached until `refresh margin` seconds
before it expires. A refused grant (invalid_grant, invalid_client, 400/401) is bad
credentials: the pusher stops instead of dead-lettering figures. Anything else (5xx, a
timeout) is a transient failure the caller retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from base.settings import PusherSettings
from connectors.pushers.http_sink import configured
from connectors.pushers.stops import BadCredentials
from connectors.pushers.transport import json_object

REFUSED_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


class TokenUnavailable(Exception):
    """The token endpoint failed for now (5xx, timeout, connection); retry later."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    refresh_at_s: float  # on the caller's clock


class LwaTokens:
    """Hands out a valid access token, refreshing it shortly before it expires."""

    def __init__(
        self, settings: PusherSettings, client: httpx.AsyncClient, clock: Callable[[], float]
    ) -> None:
        self._form = {
            "grant_type": "refresh_token",
            "refresh_token": configured(
                settings.amazon_lwa_refresh_token.get_secret_value(),
                "TALLY_PUSHER__AMAZON_LWA_REFRESH_TOKEN",
            ),
            "client_id": configured(
                settings.amazon_lwa_client_id, "TALLY_PUSHER__AMAZON_LWA_CLIENT_ID"
            ),
            "client_secret": configured(
                settings.amazon_lwa_client_secret.get_secret_value(),
                "TALLY_PUSHER__AMAZON_LWA_CLIENT_SECRET",
            ),
        }
        self._url = settings.amazon_lwa_token_url
        self._margin_s = settings.amazon_token_refresh_margin_s
        self._client = client
        self._clock = clock
        self._token: AccessToken | None = None
        self.refreshes = 0

    async def token(self) -> str:
        if self._token is None or self._clock() >= self._token.refresh_at_s:
            self._token = await self._refresh()
        return self._token.value

    def forget(self) -> None:
        """Drop the cached token (the API refused it): the next call fetches a new one."""
        self._token = None

    async def _refresh(self) -> AccessToken:
        try:
            response = await self._client.post(self._url, data=self._form)
        except httpx.HTTPError as error:
            raise TokenUnavailable(f"{type(error).__name__}: {error}") from error
        payload = json_object(response.content) or {}
        error_code = str(payload.get("error") or "")
        if error_code in REFUSED_ERRORS or response.status_code in (400, 401, 403):
            detail = payload.get("error_description") or response.text[:200]
            raise BadCredentials(
                f"Login with Amazon refused the refresh token: {error_code} {detail}"
            )
        if response.status_code != 200 or not payload.get("access_token"):
            raise TokenUnavailable(f"token endpoint answered HTTP {response.status_code}")
        self.refreshes += 1
        expires_in_s = float(payload.get("expires_in") or 3600)
        refresh_at_s = self._clock() + max(0.0, expires_in_s - self._margin_s)
        return AccessToken(str(payload["access_token"]), refresh_at_s)
