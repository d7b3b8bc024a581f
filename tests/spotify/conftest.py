"""Fixtures: the fake Spotify (spotify_fake.py) served by uvicorn in a background thread on a
real 127.0.0.1 socket, reset before each test, and clients pointed at it."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn

try:
    import queueit  # noqa: F401
except ImportError:  # not installed: run from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from spotify_fake import FakeSpotify, Running

from queueit.spotify import OfflineCatalog, SpotifyClient


@pytest.fixture(scope="session")
def _server() -> Iterator[Running]:
    fake = FakeSpotify()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        fake.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=10
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake Spotify did not start")
        time.sleep(0.01)
    yield Running(fake, f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


@pytest.fixture
def spotify(_server: Running) -> Running:
    """The running fake Spotify, reset for this test."""
    _server.fake.reset()
    return _server


@pytest.fixture
async def client(spotify: Running) -> AsyncIterator[SpotifyClient]:
    c = spotify.client()
    yield c
    await c.aclose()


@pytest.fixture(scope="session")
def catalog() -> OfflineCatalog:
    return OfflineCatalog.load()
