"""The HTTP gateway: `create_app(settings)` -> FastAPI. Stateless; run several side by side.

Ingest (`POST /v1/events`) and holds go to Kafka; availability reads come from Redis; as-of
reads (`GET /v1/stock/{sku}?at=`) replay the event log.
Every request but /healthz and /metrics carries a bearer API key (connectors.auth).
`create_app` only wires the parts: the state routes depend on (state), the routers by area
(routes/), the error handlers (errors), the web console (connectors/console, under /console),
the spec additions (spec) and the ASGI middleware.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from base.settings import Settings
from connectors import console
from connectors.auth import KeyStore, RateLimiter
from connectors.gateway import spec
from connectors.gateway.backends import Bus, History, KafkaBus, KafkaHistory, Reads, RedisReads
from connectors.gateway.catalog import Catalog, PolicyCatalog
from connectors.gateway.errors import install_error_handlers
from connectors.gateway.health import HealthMonitor
from connectors.gateway.middleware import BodyLimit, RequestMetrics
from connectors.gateway.routes import ROUTERS
from connectors.gateway.state import GatewayState, attach, attached


def create_app(
    settings: Settings,
    *,
    bus: Bus | None = None,
    reads: Reads | None = None,
    keys: KeyStore | None = None,
    catalog: Catalog | None = None,
    history: History | None = None,
) -> FastAPI:
    gateway = settings.gateway
    the_reads = reads if reads is not None else RedisReads(settings)
    the_bus = bus if bus is not None else KafkaBus(settings)
    app = FastAPI(
        title="Tally gateway",
        version="1.0.0",
        summary="Ingest stock movements, read availability, place holds (wire contract v1).",
        lifespan=_lifespan,
    )
    attach(
        app,
        GatewayState(
            settings=settings,
            bus=the_bus,
            reads=the_reads,
            keys=keys if keys is not None else KeyStore(gateway.keys_file, gateway.keys_reload_s),
            limiter=RateLimiter(
                gateway.requests_per_s_per_key_max, gateway.requests_burst_per_key_max
            ),
            catalog=catalog if catalog is not None else PolicyCatalog(settings, the_reads),
            health=HealthMonitor(gateway, the_bus, the_reads),
            history=history if history is not None else KafkaHistory(settings),
        ),
    )
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    console.install(app, settings)
    spec.document(app)
    app.add_middleware(
        BodyLimit, bytes_max=gateway.payload_bytes_max, header_bytes_max=gateway.header_bytes_max
    )
    app.add_middleware(RequestMetrics)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = attached(app)
    await state.bus.start()
    try:
        await state.reads.start()
        await state.catalog.start()
        await state.health.start()
        try:
            yield
        finally:
            await state.health.stop()
            await state.catalog.stop()
            await state.reads.stop()
    finally:
        await state.bus.stop()
