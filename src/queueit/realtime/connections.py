"""A few standalone connections for the fan-out reads of one hub.

Why not the request pool: every fan-out fetch would then compete with the REST requests for the
pool (and under load each side would stall the other), and a pooled connection is reset on
release — one more round trip per fetch. These connections only run single read statements
outside transactions, so they need no reset.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from queueit.db import Connection, Database


class ReadConnections:
    def __init__(self, db: Database, size: int) -> None:
        self._db = db
        # None is a free slot: whoever takes it opens a connection.
        self._idle: asyncio.Queue[Connection | None] = asyncio.Queue()
        for _ in range(max(1, size)):
            self._idle.put_nowait(None)
        self._all: set[Connection] = set()

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        conn = await self._idle.get()
        if conn is None:
            try:
                conn = await self._db.connect_dedicated()
            except BaseException:
                self._idle.put_nowait(None)
                raise
            self._all.add(conn)
        healthy = False
        try:
            yield conn
            healthy = True
        finally:
            if healthy and not conn.is_closed():
                self._idle.put_nowait(conn)
            else:
                # Failed or cancelled mid-statement: do not trust its state, open a new one.
                self._all.discard(conn)
                conn.terminate()
                self._idle.put_nowait(None)

    def close(self) -> None:
        for conn in self._all:
            conn.terminate()
        self._all.clear()
