"""A WebSocket relay over pipes, for the Swift realtime client on Linux.

FoundationNetworking on Linux cannot open WebSockets, so the live Swift tests
(contract_tests/swift, `RelayTransport`) start this process per connection: it opens a real
socket to the live server with `websockets` and relays text frames as JSON lines. The client
logic under test (`PartyFeed`) is the same as over `URLSessionWebSocketTask`.

stdin, one JSON object per line:
    {"url": "ws://…", "headers": {"Authorization": "Bearer …"}}   first line: connect
    {"send": "<text frame>"}
    {"close": 1000}
stdout, one JSON object per line:
    {"open": true}
    {"frame": "<text frame>"}
    {"closed": <the server's close code, or null when the connection dropped>, "reason": "…"}
The process exits after "closed", and closes the socket when stdin ends.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _read_stdin() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _forward_commands(reader: asyncio.StreamReader, ws: ClientConnection) -> None:
    while line := await reader.readline():
        command = json.loads(line)
        if "send" in command:
            try:
                await ws.send(str(command["send"]))
            except ConnectionClosed:
                return
        elif "close" in command:
            await ws.close(int(command["close"]))
            return
    await ws.close(1000)  # the client went away


async def main() -> None:
    reader = await _read_stdin()
    opening = json.loads(await reader.readline())
    try:
        ws = await connect(
            opening["url"],
            additional_headers=opening.get("headers") or {},
            max_size=None,
            ping_interval=None,  # the client's own heartbeats are under test, not the relay's
            open_timeout=10,
        )
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
        _emit({"closed": None, "reason": f"connect failed: {exc}"})
        return
    _emit({"open": True})
    commands = asyncio.create_task(_forward_commands(reader, ws))
    try:
        async for frame in ws:
            _emit({"frame": frame if isinstance(frame, str) else frame.decode()})
    except ConnectionClosed:
        pass
    finally:
        commands.cancel()
    received = ws.protocol.close_rcvd  # None: no close frame came (1006 is not sent)
    _emit(
        {
            "closed": received.code if received is not None else None,
            "reason": received.reason if received is not None else "dropped",
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
