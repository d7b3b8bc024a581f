"""A realtime test client: a real `websockets` connection whose every received message is checked
with the shared contract validator (`queueit.realtime.conformance`)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import urlencode

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from queueit.realtime.conformance import validate_client_message, validate_server_message

TIMEOUT = 10.0  # generous: only there so a broken test fails instead of hanging


class RtClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    @classmethod
    async def open(
        cls,
        base_url: str,
        session_id: object,
        *,
        token: str | None = None,
        via: str = "header",
        since: int | None = None,
        small_buffers: bool = False,
        extra_query: dict[str, str] | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> RtClient:
        query: dict[str, str] = dict(extra_query or {})
        headers: dict[str, str] = dict(extra_headers or {})
        if since is not None:
            query["since"] = str(since)
        if token is not None and via == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif token is not None and via == "query":
            query["access_token"] = token
        url = f"{base_url}/api/v1/sessions/{session_id}/realtime"
        if query:
            url += "?" + urlencode(query)
        kwargs: dict[str, Any] = {}
        if small_buffers:
            # A client that stops reading: tiny kernel receive buffer, and the library stops
            # reading the socket as soon as one message waits.
            host, port = base_url.removeprefix("ws://").split(":")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect((host, int(port)))
            sock.setblocking(False)
            kwargs.update(sock=sock, max_queue=1)
        ws = await connect(
            url,
            additional_headers=headers,
            compression=None,
            open_timeout=TIMEOUT,
            close_timeout=TIMEOUT,
            max_size=2**22,
            **kwargs,
        )
        client = cls(ws)
        if token is not None and via == "frame":
            await client.send({"type": "auth", "token": token})
        return client

    async def send(self, message: dict[str, Any], *, check: bool = True) -> None:
        if check:
            validate_client_message(message)
        await self.ws.send(orjson.dumps(message).decode())

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv(self, within: float = TIMEOUT) -> dict[str, Any]:
        """The next message, whatever it is (validated against the contract)."""
        raw = await asyncio.wait_for(self.ws.recv(), within)
        assert isinstance(raw, str), "the server sends text frames"
        message: dict[str, Any] = orjson.loads(raw)
        validate_server_message(message)
        self.received.append(message)
        return message

    async def next(self, within: float = TIMEOUT) -> dict[str, Any]:
        """The next message that is not a heartbeat."""
        while True:
            message = await self.recv(within)
            if message["type"] not in ("ping", "pong"):
                return message

    async def events(self, n: int, within: float = TIMEOUT) -> list[dict[str, Any]]:
        return [await self.next(within) for _ in range(n)]

    async def closed_with(self, within: float = TIMEOUT) -> tuple[int | None, list[dict[str, Any]]]:
        """Read until the server closes; (close code, messages read before it)."""
        before: list[dict[str, Any]] = []
        try:
            while True:
                before.append(await self.recv(within))
        except ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else None), before

    async def recv_or_close(self, within: float = TIMEOUT) -> dict[str, Any] | int | None:
        """The next message, or the close code if the server closed instead (TimeoutError when
        neither happens within `within`)."""
        try:
            return await self.recv(within)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    async def close(self) -> None:
        await self.ws.close()
