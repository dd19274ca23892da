"""Who is looking: the session cookie resolved to its API key's record, and what it may see.

Roles come from the key: `admin` (everything), `channel:NAME` (that channel's figures and
orders), `scanner` (a store associate; at its `locations` when the key names them). A page
that needs a session redirects to the login page; a role that may not see a page gets 403.
Forms are CSRF-safe: the cookie is SameSite=Strict, and a POST must come from this origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from connectors.auth import KeyRecord
from connectors.console.session import COOKIE_NAME, verify
from connectors.console.state import ConsoleDep
from connectors.gateway.state import StateDep


class LoginRequired(Exception):
    """No valid session: the page sends the browser to the login page."""


class NotAllowed(Exception):
    """The session's role may not do this (a 403 page says why)."""


@dataclass(frozen=True, slots=True)
class Viewer:
    record: KeyRecord

    @property
    def is_admin(self) -> bool:
        return self.record.is_admin

    @property
    def stores(self) -> tuple[str, ...]:
        """A store associate's stores (empty: not limited to any)."""
        return self.record.locations or ()

    @property
    def label(self) -> str:
        if self.record.is_admin:
            return "admin"
        if self.record.channel is not None:
            return f"channel {self.record.channel}"
        if self.stores:
            return "store associate at " + ", ".join(self.stores)
        return "store associate"

    def channels(self, known: Iterable[str]) -> list[str]:
        """The channels whose figures this viewer sees, of those `known`."""
        own = self.record.channel
        return sorted(name for name in known if own is None or name == own)

    def may_see_orders_of(self, channel: str) -> bool:
        return self.record.is_admin or self.record.channel == channel


async def viewer(request: Request, state: StateDep, console: ConsoleDep) -> Viewer:
    cookie = request.cookies.get(COOKIE_NAME)
    session = None if cookie is None else verify(cookie, console.secret)
    record = None if session is None else state.keys.by_key_id(session.key_id)
    if record is None:
        raise LoginRequired
    return Viewer(record)


ViewerDep = Annotated[Viewer, Depends(viewer)]


async def admin(who: ViewerDep) -> Viewer:
    if not who.is_admin:
        raise NotAllowed("this page is for admin keys only")
    return who


AdminDep = Annotated[Viewer, Depends(admin)]


async def same_origin(request: Request) -> None:
    """A state-changing request must come from a page of this console (CSRF)."""
    origin = request.headers.get("origin") or _origin_of(request.headers.get("referer", ""))
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin != own:
        raise NotAllowed("this form must be sent from the console's own pages")


def _origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else ""


SameOrigin = Depends(same_origin)
