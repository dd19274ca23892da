"""A broker that answers late: a relay to the real one, opened after a delay (a process
started while its broker restarts)."""

from __future__ import annotations

import asyncio

from base.settings import Settings


def via_port(settings: Settings, port: int) -> Settings:
    """`settings` with Kafka at `port` on the same host."""
    return settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"port": port})})


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, to: int) -> None:
    upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", to)

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65_536):
                sink.write(data)
                await sink.drain()
        finally:
            sink.transport.abort()

    await asyncio.gather(
        pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True
    )


async def open_relay_after(delay_s: float, listen_port: int, broker_port: int) -> asyncio.Server:
    """After `delay_s`, relay `listen_port` to the broker at `broker_port`."""
    await asyncio.sleep(delay_s)
    return await asyncio.start_server(
        lambda r, w: _relay(r, w, broker_port), "127.0.0.1", listen_port
    )
