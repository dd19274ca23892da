"""Operations endpoints, no key needed: `/healthz` (Kafka, the decision follower and Redis,
from the last background probe: connectors.gateway.health) and `/metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.gateway.health import healthy
from connectors.gateway.models import Health
from connectors.gateway.state import HealthDep

router = APIRouter()


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health}},
    summary="Kafka (and the decision follower) and Redis reachable, as last probed (no key needed)",
)
async def healthz(monitor: HealthDep) -> Health | JSONResponse:
    health = monitor.current()
    if not healthy(health):
        return JSONResponse(health.model_dump(), status_code=503)
    return health


@router.get("/metrics", summary="Prometheus exposition (no key needed)", response_class=Response)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
