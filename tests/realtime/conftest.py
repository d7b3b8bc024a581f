"""Realtime fixtures: real uvicorn servers on 127.0.0.1 over the embedded PostgreSQL of
tests/conftest.py, development-token users, and the contract-checking client.

    server         an in-process server (default settings) — `server.url`, `server.hub`
    start_server   `await start_server(ws_send_buffer=8, hub_options={...})` for other settings
    user           `await user("alice")` -> RtUser with a dev token and a profile row
    settings       the default test Settings (development auth, keys in a temp DATA_DIR)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from rt_app import build_app
from rt_data import RtUser, make_user
from rt_server import RtServer, serve_in_process

from queueit.config import Settings
from queueit.db import Database


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("realtime-data")


@pytest.fixture(scope="session")
def make_settings(data_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return Settings(_env_file=None, data_dir=data_dir, **overrides)  # type: ignore[call-arg]

    return make


@pytest.fixture(scope="session")
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest_asyncio.fixture
async def start_server(
    db: Database, make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Awaitable[RtServer]]]:
    running: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(
        hub_options: dict[str, Any] | None = None, shortcut: bool = False, **overrides: Any
    ) -> RtServer:
        settings = make_settings(**overrides)
        app = build_app(settings, db=db, hub_options=hub_options, shortcut=shortcut)
        server, task, port = await serve_in_process(app, settings)
        running.append((server, task))
        hub = app.state.realtime_hub
        return RtServer(f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}", hub, settings)

    yield start
    for server, _ in running:
        server.should_exit = True
    for _, task in running:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 15)


@pytest_asyncio.fixture
async def server(start_server: Callable[..., Awaitable[RtServer]]) -> RtServer:
    return await start_server()


@pytest.fixture
def user(db: Database, settings: Settings) -> Callable[[str], Awaitable[RtUser]]:
    async def factory(name: str) -> RtUser:
        return await make_user(db, settings, name)

    return factory
