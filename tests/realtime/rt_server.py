"""The realtime tests' server handle and in-process uvicorn runner (a module of its own, so
test modules never import `conftest`, whose name several test folders share)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from rt_app import uvicorn_config

from queueit.config import Settings
from queueit.realtime import RealtimeHub


@dataclass
class RtServer:
    url: str  # ws://127.0.0.1:PORT
    http_url: str
    hub: RealtimeHub
    settings: Settings

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.http_url, timeout=10.0)


async def serve_in_process(
    app: Any, settings: Settings, log_level: str = "warning"
) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    server = uvicorn.Server(uvicorn_config(app, settings, log_level=log_level))
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        task.result()  # raises what went wrong
        raise RuntimeError("server did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port
