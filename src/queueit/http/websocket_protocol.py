"""The WebSocket protocol QueueIT serves with: uvicorn's sans-I/O websockets protocol, whose
close cannot hang on a peer that stopped reading.

asyncio's ``transport.close()`` sends what is buffered before it closes the socket. For a client
that stopped reading (the realtime hub cuts it off with 4009 and gives up on it), that buffer
never drains: the TCP connection stayed open for good, with megabytes stuck in the kernel, while
its cap slot was already free, so one user could hold any number of such connections. Here,
once the app is done with a socket, the connection has ``flush_seconds`` to finish; then it is
aborted and what was never read is dropped.

``protocol_class`` (http/server_protocol.py) hands upgrades to this class. Subclassing uvicorn's
protocol depends on its internals: uvicorn is pinned exactly.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["BoundedCloseWebSocketProtocol"]


class BoundedCloseWebSocketProtocol(WebSocketsSansIOProtocol):
    flush_seconds: float = 5.0

    _lost = False
    _abort_timer: asyncio.TimerHandle | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None
        super().connection_lost(exc)

    async def run_asgi(self) -> None:
        try:
            await super().run_asgi()
        finally:
            if not self._lost:
                self._abort_timer = self.loop.call_later(self.flush_seconds, self._abort)

    def _abort(self) -> None:
        self._abort_timer = None
        if not self._lost:
            self.transport.abort()
