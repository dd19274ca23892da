"""Trading-partner profiles: who a partner is on the envelope, and how its ids map to ours.

One YAML or JSON file (settings.edi.partners_file) holds every partner under `partners:`,
keyed by the name `--partner` uses. A partner's items (its item id -> our SKU) and ship-to
locations (its N1*ST id -> our location) are the only ids we accept from it or send to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ledger.fields import ChannelId, LocationId, Sku

# An id we read from or write into X12: printable, none of the delimiters we write with.
PartnerId = Annotated[str, StringConstraints(min_length=1, max_length=48, pattern=r"^[^*~>^\s]+$")]
Qualifier = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}$")]


class PartnerProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    isa_qualifier: Qualifier
    isa_id: Annotated[str, StringConstraints(min_length=1, max_length=15, pattern=r"^[!-~]+$")]
    gs_id: PartnerId | None = None  # GS02/GS03 application code; the ISA id when absent
    version: str = Field(default="004010", pattern=r"^00[4-8]0[1-7]0$")  # GS08 we write
    channel: ChannelId | None = None  # whose published figures the 846 advises
    item_qualifier: Qualifier = "BP"  # LIN qualifier of the partner's item id (BP, VP, UP ...)
    items: dict[PartnerId, Sku] = Field(min_length=1)  # partner item id -> our SKU
    locations: dict[PartnerId, LocationId] = {}  # ship-to id (N104) -> our location
    order_id_from: Literal["shipment", "purchase_order"] = "shipment"  # BSN02 or PRF01
    transit_days: int | None = Field(default=None, ge=0, le=365)  # else settings.edi
    timezone: str = "UTC"  # the partner's local time, for dates without a zone
    units: dict[Qualifier, int] = {"EA": 1}  # SN103 unit of measure -> units per one

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @field_validator("items")
    @classmethod
    def _one_partner_item_per_sku(cls, items: dict[str, str]) -> dict[str, str]:
        skus = list(items.values())
        repeated = sorted({sku for sku in skus if skus.count(sku) > 1})
        if repeated:
            raise ValueError(f"SKUs mapped from more than one partner item: {repeated}")
        return items

    @property
    def application_id(self) -> str:
        return self.gs_id or self.isa_id

    @property
    def isa_version(self) -> str:
        return self.version[:5]  # 004010 -> 00401

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def items_by_sku(self) -> dict[str, str]:
        """Our SKU -> the partner's item id (one each: checked on load)."""
        return {sku: item for item, sku in self.items.items()}


class UnknownPartner(KeyError):
    pass


def load_partners(path: Path) -> dict[str, PartnerProfile]:
    """Every profile in the file; ValueError (pydantic's) names a bad field."""
    document = yaml.safe_load(path.read_text()) or {}
    listed = document.get("partners", {}) if isinstance(document, dict) else {}
    if not isinstance(listed, dict):
        raise ValueError(f"{path}: `partners` must map names to profiles")
    return {
        name: PartnerProfile.model_validate({"name": name, **body}) for name, body in listed.items()
    }


def load_partner(path: Path, name: str) -> PartnerProfile:
    partners = load_partners(path)
    if name not in partners:
        known = ", ".join(sorted(partners)) or "none"
        raise UnknownPartner(f"no partner {name!r} in {path} (known: {known})")
    return partners[name]
