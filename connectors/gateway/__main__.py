"""`python -m connectors.gateway`: serve the gateway on settings.gateway.host:port."""

from __future__ import annotations

import logging

import uvicorn

from base.settings import get_settings
from connectors.gateway.app import create_app


def main() -> None:
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.gateway.host,
        port=settings.gateway.port,
        log_level="info",
        # Access logs never carry headers (so never a key); keep them for request tracing.
        access_log=True,
    )


if __name__ == "__main__":
    main()
