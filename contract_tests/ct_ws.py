"""A WebSocket client for the contract job: every message it receives is checked against the
AsyncAPI contract with the shared validator (`queueit.realtime.conformance`), and captured for
the Swift test. Event `seq`s must follow one another without a gap on each socket."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import ct_checks
import orjson
from ct_capture import CORPUS
from ct_stats import STATS
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from queueit.realtime.conformance import validate_client_message, validate_server_message

TIMEOUT = 15.0


class WsClient:
    def __init__(self, ws: ClientConnection, label: str) -> None:
        self.ws = ws
        self.label = label
        self.received: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.last_seq: int | None = None

    @classmethod
    async def open(
        cls,
        ws_url: str,
        session_id: str,
        *,
        token: str | None,
        via: str = "header",
        since: int | None = None,
        label: str = "",
    ) -> WsClient:
        query: dict[str, str] = {}
        headers: dict[str, str] = {}
        if since is not None:
            query["since"] = str(since)
        if token is not None and via == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif token is not None and via == "query":
            query["access_token"] = token
        url = f"{ws_url}/api/v1/sessions/{session_id}/realtime"
        if query:
            url += "?" + urlencode(query)
        ws = await connect(
            url,
            additional_headers=headers,
            compression=None,
            open_timeout=TIMEOUT,
            close_timeout=TIMEOUT,
            max_size=2**22,
        )
        client = cls(ws, label or via)
        client.last_seq = since  # a replay continues from `since` (a snapshot resets it)
        if token is not None and via == "frame":
            await client.send({"type": "auth", "token": token})
        return client

    async def send(self, message: dict[str, Any]) -> None:
        validate_client_message(message)
        await self.ws.send(orjson.dumps(message).decode())

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv(self, within: float = TIMEOUT) -> dict[str, Any]:
        """The next message (validated, captured, and its seq checked against the last one)."""
        raw = await asyncio.wait_for(self.ws.recv(), within)
        assert isinstance(raw, str), f"{self.label}: the server sends text frames, got {raw!r}"
        message: dict[str, Any] = orjson.loads(raw)
        try:
            validate_server_message(message)
        except AssertionError as exc:
            raise AssertionError(f"{self.label}: {exc}") from None
        problems = ct_checks.violations_session_state(message)
        assert not problems, f"{self.label}: {message['type']}: {problems}"
        STATS.count("ws messages validated")
        CORPUS.add_message(message, raw)
        self.received.append(message)
        kind = message["type"]
        if kind == "snapshot":
            self.last_seq = message["seq"]
        elif "seq" in message:
            if self.last_seq is not None:
                assert message["seq"] == self.last_seq + 1, (
                    f"{self.label}: seq {message['seq']} after {self.last_seq} (a gap or reorder)"
                )
            self.last_seq = message["seq"]
            self.events.append(message)
        return message

    async def next(self, within: float = TIMEOUT) -> dict[str, Any]:
        """The next message that is not a heartbeat."""
        while True:
            message = await self.recv(within)
            if message["type"] not in ("ping", "pong"):
                return message

    async def reply(self, within: float = TIMEOUT) -> dict[str, Any]:
        """The next answer to a client frame (`error` or `pong`), skipping events and pings."""
        while True:
            message = await self.recv(within)
            if message["type"] in ("error", "pong"):
                return message

    async def until_closed(self, within: float = TIMEOUT) -> int | None:
        """Read (and check) everything up to the server's close; the close code."""
        try:
            while True:
                await self.recv(within)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    async def close(self) -> None:
        await self.ws.close()
