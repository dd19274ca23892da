"""Path parameters of the gateway's routes, bounded (and so documented) like the ledger's ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from ledger import limits

_ID = {"min_length": 1, "max_length": limits.ID_CHARS_MAX, "pattern": limits.ID_PATTERN}
_TOKEN = {"min_length": 1, "max_length": limits.ID_CHARS_MAX, "pattern": limits.TOKEN_PATTERN}

ChannelPath = Annotated[str, Path(**_ID)]
SkuPath = Annotated[str, Path(**_ID)]
HoldIdPath = Annotated[str, Path(**_TOKEN)]
TokenPath = Annotated[str, Path(**_TOKEN)]
