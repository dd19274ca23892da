"""The HTTP gateway (FastAPI): ingest, holds, availability reads, policy, health, metrics."""

from connectors.gateway.app import create_app

__all__ = ["create_app"]
