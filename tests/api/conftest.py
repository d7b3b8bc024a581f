"""API fixtures: the real app (`create_app`) served by uvicorn in its own thread on 127.0.0.1,
over the embedded PostgreSQL of tests/conftest.py, and development-token users with httpx clients.

    api            module    the server the tests of a module share (generous rate limits), on
                             `migrated_dsn`. Isolate by data: every user has a random name.
                             Stopped after the module, so its connections do not pile up on the
                             shared PostgreSQL (max_connections) while other suites run.
    start_server   function  `start_server(dsn=..., data_dir=..., **settings)` another server (its
                             own settings, e.g. small rate limits, or a `fresh_dsn` for fault
                             injection); stopped after the test.
    actor          function  `await actor("alice")` -> Actor with `.client` (httpx, bearer token)
                             on `api`; `await actor("bob", server=other)` on another server.

Every response any Actor receives is checked (apikit.check_response): X-Request-ID present,
problem bodies consistent with status and header, every date in the wire format.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from apikit import Actor, LiveServer, new_actor

from queueit.app import create_app
from queueit.config import Settings
from queueit.db import SERVICE_ROLE, as_login_role
from queueit.http.server_protocol import protocol_class
from tools.generous_limits import generous_limits

GENEROUS = generous_limits()


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "db_pool_max": 10, **GENEROUS, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def serve(settings: Settings, dsn: str) -> LiveServer:
    """create_app(settings, dsn) under uvicorn in a thread (its own event loop), on a free port."""
    app = create_app(settings, dsn=as_login_role(dsn, SERVICE_ROLE))  # as the service logs in
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,
        http=protocol_class(settings),  # the HTTP protocol `queueit run` serves with
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the API server thread died while starting")
        if time.monotonic() > deadline:
            raise RuntimeError("the API server did not start within 60 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return LiveServer(f"http://127.0.0.1:{port}", settings, app, server, thread)


def stop(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=20)


@pytest.fixture(scope="session")
def api_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-data")


@pytest.fixture(scope="module")
def api(migrated_dsn: str, api_data_dir: Path) -> Iterator[LiveServer]:
    live = serve(make_settings(api_data_dir), migrated_dsn)
    yield live
    stop(live)


@pytest.fixture
def start_server(migrated_dsn: str, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    running: list[LiveServer] = []

    def start(dsn: str | None = None, data_dir: Path | None = None, **overrides: Any) -> LiveServer:
        data_dir = data_dir or tmp_path / f"data-{len(running)}"
        live = serve(make_settings(data_dir, **overrides), dsn or migrated_dsn)
        running.append(live)
        return live

    yield start
    for live in running:
        stop(live)


@pytest_asyncio.fixture
async def actor(api: LiveServer) -> AsyncIterator[Callable[..., Awaitable[Actor]]]:
    made: list[Actor] = []

    async def factory(
        name: str = "user", *, server: LiveServer | None = None, anonymous: bool = False
    ) -> Actor:
        person = new_actor(server or api, name, anonymous=anonymous)
        made.append(person)
        return person

    yield factory
    for person in made:
        await person.client.aclose()


@pytest.fixture
def raw_client(api: LiveServer) -> Iterator[Callable[..., httpx.AsyncClient]]:
    """Clients without a token (for 401s and malformed requests); closed by the test."""
    from apikit import checked_client

    def make(server: LiveServer | None = None, **kwargs: Any) -> httpx.AsyncClient:
        return checked_client((server or api).url, **kwargs)

    yield make
