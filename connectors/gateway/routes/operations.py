"""Operations endpoints, no key needed: `/healthz` (Kafka and Redis reachable) and `/metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.gateway.models import Health
from connectors.gateway.state import BusDep, ReadsDep

router = APIRouter()


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health}},
    summary="Kafka and Redis reachable (no key needed)",
)
async def healthz(bus: BusDep, reads: ReadsDep) -> Health | JSONResponse:
    kafka, redis_state = await asyncio.gather(_probe(bus.ping), _probe(reads.ping))
    health = Health(kafka=kafka, redis=redis_state)
    if kafka != "ok" or redis_state != "ok":
        return JSONResponse(health.model_dump(), status_code=503)
    return health


@router.get("/metrics", summary="Prometheus exposition (no key needed)", response_class=Response)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _probe(ping: Callable[[], Awaitable[None]]) -> str:
    try:
        await ping()
    except Exception as error:  # any failure means unreachable; the name says which
        return f"unreachable: {type(error).__name__}"
    return "ok"
