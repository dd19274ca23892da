"""The console's pages by area, one APIRouter each (none is in the API's OpenAPI document)."""

from __future__ import annotations

from fastapi import APIRouter

from connectors.console.routes import live, login, lookup, ops, orders, policy, sku

ROUTERS: tuple[APIRouter, ...] = (
    login.router,
    lookup.router,
    sku.router,
    orders.router,
    ops.router,
    policy.router,
    live.router,
)
