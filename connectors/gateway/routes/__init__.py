"""The gateway's routes by area, one APIRouter each, in the order the spec lists them."""

from __future__ import annotations

from fastapi import APIRouter

from connectors.gateway.routes import (
    events,
    holds,
    operations,
    orders,
    policy,
    promise,
    reads,
    stock,
)

ROUTERS: tuple[APIRouter, ...] = (
    events.router,
    holds.router,
    reads.router,
    stock.router,
    orders.router,
    promise.router,
    policy.router,
    operations.router,
)
