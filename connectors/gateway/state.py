"""What every request may need (settings, Kafka, Redis, keys, rate limits), on `app.state`.

`create_app` puts one `GatewayState` on `app.state.gateway`; routes and the auth dependency
take its parts through FastAPI dependency injection (`SettingsDep`, `BusDep`, `ReadsDep`,
`HistoryDep`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, FastAPI, Request

from base.settings import Settings
from connectors.auth import KeyStore, RateLimiter
from connectors.gateway.backends import Bus, History, Reads
from connectors.gateway.catalog import Catalog
from connectors.gateway.health import HealthMonitor


@dataclass(frozen=True, slots=True)
class GatewayState:
    settings: Settings
    bus: Bus
    reads: Reads
    keys: KeyStore
    limiter: RateLimiter
    catalog: Catalog
    health: HealthMonitor
    history: History


def attach(app: FastAPI, state: GatewayState) -> None:
    app.state.gateway = state


def attached(app: FastAPI) -> GatewayState:
    return cast(GatewayState, app.state.gateway)


def gateway_state(request: Request) -> GatewayState:
    return attached(request.app)


def _settings(state: Annotated[GatewayState, Depends(gateway_state)]) -> Settings:
    return state.settings


def _bus(state: Annotated[GatewayState, Depends(gateway_state)]) -> Bus:
    return state.bus


def _reads(state: Annotated[GatewayState, Depends(gateway_state)]) -> Reads:
    return state.reads


def _history(state: Annotated[GatewayState, Depends(gateway_state)]) -> History:
    return state.history


def _catalog(state: Annotated[GatewayState, Depends(gateway_state)]) -> Catalog:
    return state.catalog


def _health(state: Annotated[GatewayState, Depends(gateway_state)]) -> HealthMonitor:
    return state.health


StateDep = Annotated[GatewayState, Depends(gateway_state)]
HealthDep = Annotated[HealthMonitor, Depends(_health)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
SettingsDep = Annotated[Settings, Depends(_settings)]
BusDep = Annotated[Bus, Depends(_bus)]
ReadsDep = Annotated[Reads, Depends(_reads)]
HistoryDep = Annotated[History, Depends(_history)]
