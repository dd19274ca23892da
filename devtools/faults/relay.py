"""A TCP relay on loopback that can delay, stall or drop what passes through it: the network
between the workers and the broker in a fault run (this kernel has no `netem`).

The broker advertises the relay's port on a listener of its own (devtools/faults/stack.py),
so a worker that bootstraps through the relay keeps talking through it. The relay runs its
own event loop in a thread; `delay()`, `stall()`, `drop()` and `normal()` are thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass, field

log = logging.getLogger("tally.faults")

CHUNK_BYTES = 65_536
HOST = "127.0.0.1"


@dataclass
class _Mode:
    delay_s: float = 0.0
    stalled: asyncio.Event = field(default_factory=asyncio.Event)  # set: forwarding


class Relay:
    """Forwards `listen_port` to `target_port` on loopback."""

    def __init__(self, listen_port: int, target_port: int) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._mode = _Mode()
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.dropped = 0  # connections closed by drop()

    def start(self) -> Relay:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        """Close every connection and the listener; never raises (a run's teardown)."""
        if self._thread.is_alive():
            try:
                self._call(self._stop())
            except (TimeoutError, RuntimeError) as error:  # a loop stuck or gone: let it be
                log.warning("relay %d: stopping: %r", self.listen_port, error)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()

    def delay(self, seconds: float) -> None:
        """Hold every chunk this long before passing it on (both ways)."""
        self._call(self._set(delay_s=seconds))

    def stall(self) -> None:
        """Stop passing anything on; connections stay open (a stalled network)."""
        self._call(self._set(stalled=True))

    def normal(self) -> None:
        self._call(self._set(delay_s=0.0, stalled=False))

    def drop(self) -> None:
        """Close every connection through the relay now (new ones are accepted)."""
        self._call(self._drop())

    # --- inside the relay's loop ---------------------------------------------------------

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)  # type: ignore[arg-type]

    async def _start(self) -> None:
        self._mode.stalled.set()
        self._server = await asyncio.start_server(self._link, HOST, self.listen_port)

    async def _stop(self) -> None:
        await self._drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _set(self, *, delay_s: float | None = None, stalled: bool | None = None) -> None:
        if delay_s is not None:
            self._mode.delay_s = delay_s
        if stalled is True:
            self._mode.stalled.clear()
        elif stalled is False:
            self._mode.stalled.set()

    async def _drop(self) -> None:
        links, self._links = self._links, set()
        self.dropped += len(links) // 2
        for writer in links:
            writer.transport.abort()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            writer.transport.abort()  # the broker is down: the client sees a refusal
            return
        except asyncio.CancelledError:
            writer.transport.abort()  # the relay stops
            raise
        self._links |= {writer, up_writer}
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
            )
        finally:  # also when the relay stops mid-link: no transport left open
            for end in (writer, up_writer):
                self._links.discard(end)
                end.transport.abort()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await source.read(CHUNK_BYTES):
                await self._mode.stalled.wait()
                if self._mode.delay_s:
                    await asyncio.sleep(self._mode.delay_s)
                await self._mode.stalled.wait()
                sink.write(data)
                await sink.drain()
        sink.transport.abort()
