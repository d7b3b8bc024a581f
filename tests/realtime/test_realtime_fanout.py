"""Fan-out: slow consumers, the safety-net poll, and several server processes on one database."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import psutil
import pytest
import pytest_asyncio
import rt_data as data
from rt_client import RtClient
from rt_data import RtUser
from rt_server import RtServer

from queueit.config import Settings
from queueit.db import Database

UserFactory = Callable[[str], Awaitable[RtUser]]
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


async def test_a_client_that_stops_reading_is_cut_off_4009_without_slowing_others(
    db: Database, start_server: Callable[..., Awaitable[RtServer]], user: UserFactory
) -> None:
    server = await start_server(ws_send_buffer=16)
    host, slow_user = await user("host"), await user("slow")
    sid = await data.create_session(db, host, [slow_user])
    slow = await RtClient.open(server.url, sid, token=slow_user.token, small_buffers=True)
    fast = await RtClient.open(server.url, sid, token=host.token)
    start = (await slow.next())["seq"]
    await fast.next()

    # ~2 KB events until far more than socket buffers + 16 queued frames are outstanding
    big = data.song_added_data(host, name="N" * 500)
    big["queued_song"]["song"]["artists"] = "A" * 500
    big["queued_song"]["song"]["album"] = "B" * 500
    seqs: list[int] = []
    for _ in range(40):
        async with host.tx(db) as conn:
            rows = await conn.fetch(
                "select (app.append_event($1, 'song_added', $2)).seq from generate_series(1, 50)",
                sid,
                big,
            )
        seqs.extend(int(r["seq"]) for r in rows)
        server.hub.publish(sid, seqs[-1])
        received = await fast.events(len(rows))  # the fast reader keeps up, batch after batch
        assert [e["seq"] for e in received] == seqs[-len(rows) :]
    assert seqs == list(range(start + 1, start + 2001))

    code, before = await slow.closed_with()
    assert code == 4009
    got = [m["seq"] for m in before if m["type"] == "song_added"]
    assert got == list(range(start + 1, start + 1 + len(got)))  # a gap-free prefix
    assert len(got) < len(seqs)
    assert server.hub.subscriber_count(sid) == 1

    # it resumes with `since` and gets the rest
    again = await RtClient.open(server.url, sid, token=slow_user.token, since=got[-1])
    rest = await again.events(len(seqs) - len(got))
    assert [e["seq"] for e in rest] == seqs[len(got) :]
    await again.close()
    await fast.close()


async def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    """Whether `condition` holds within `seconds` (checked every 0.2 s)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


def _established(server_port: int, client_port: int) -> bool:
    """Whether the server's end of this TCP connection is still open (server and test share
    this process)."""
    return any(
        c.laddr and c.raddr and c.laddr.port == server_port and c.raddr.port == client_port
        for c in psutil.Process().net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED
    )


async def test_a_client_that_never_reads_again_loses_its_tcp_connection(
    db: Database, start_server: Callable[..., Awaitable[RtServer]], user: UserFactory
) -> None:
    """Before: cut off (4009) and uncounted, but the connection stayed open with megabytes
    stuck in the kernel (still there after 240 s), so one user held more than the cap."""
    server = await start_server(ws_send_buffer=16, hub_options={"close_timeout": 1.0})
    host, stalled = await user("host"), await user("stalled")
    sid = await data.create_session(db, host, [stalled])
    client = await RtClient.open(server.url, sid, token=stalled.token, small_buffers=True)
    await client.next()  # the snapshot; then it never reads again
    sock = client.ws.transport.get_extra_info("socket")
    client.ws.transport.pause_reading()
    server_port = int(server.url.rsplit(":", 1)[1])
    client_port = sock.getsockname()[1]
    assert _established(server_port, client_port)

    big = data.song_added_data(host, name="N" * 500)
    big["queued_song"]["song"]["artists"] = "A" * 500
    big["queued_song"]["song"]["album"] = "B" * 500
    for _ in range(60):
        async with host.tx(db) as conn:
            rows = await conn.fetch(
                "select (app.append_event($1, 'song_added', $2)).seq from generate_series(1, 50)",
                sid,
                big,
            )
        server.hub.publish(sid, int(rows[-1]["seq"]))
        await asyncio.sleep(0.05)
    assert await _within(30, lambda: server.hub.subscriber_count(sid) == 0), "never cut off"
    gone = await _within(30, lambda: not _established(server_port, client_port))
    assert gone, "the server still holds the connection"
    client.ws.transport.abort()


async def test_commits_nobody_published_are_found_by_the_poll(
    db: Database, start_server: Callable[..., Awaitable[RtServer]], user: UserFactory
) -> None:
    """A crash between commit and publish loses the wake-up, not the event."""
    server = await start_server(hub_options={"poll_interval": 0.2})
    host = await user("host")
    sid = await data.create_session(db, host)
    client = await RtClient.open(server.url, sid, token=host.token)
    start = (await client.next())["seq"]
    for i in range(3):
        await data.append(db, host, sid, "votes_updated", data.votes_data(i))  # no publish
    assert [e["seq"] for e in await client.events(3)] == [start + 1, start + 2, start + 3]
    assert server.hub.stats.poll_catches >= 1
    await client.close()


async def test_a_gap_in_notifications_is_filled_from_the_table(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    host = await user("host")
    sid = await data.create_session(db, host)
    client = await RtClient.open(server.url, sid, token=host.token)
    start = (await client.next())["seq"]
    seqs = [await data.append(db, host, sid, "votes_updated", data.votes_data(i)) for i in range(4)]
    server.hub.publish(sid, seqs[-1])  # only the last one is announced
    assert [e["seq"] for e in await client.events(4)] == seqs
    assert seqs[0] == start + 1
    server.hub.publish(sid, seqs[1])  # late and duplicate announcements change nothing
    seq = await data.append(db, host, sid, "votes_updated", data.votes_data(9))
    server.hub.publish(sid, seq)
    assert (await client.next())["seq"] == seq
    await client.close()


async def test_notify_reaches_another_hub_on_the_same_database(
    db: Database, start_server: Callable[..., Awaitable[RtServer]], user: UserFactory
) -> None:
    """Two hubs (as two processes would have): changes published on B reach members on A."""
    a = await start_server(hub_options={"poll_interval": 3600})
    b = await start_server(hub_options={"poll_interval": 3600})
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    client = await RtClient.open(a.url, sid, token=guest.token)
    start = (await client.next())["seq"]
    for _ in range(200):  # A's LISTEN connection comes up in the background
        if a.hub.listening:
            break
        await asyncio.sleep(0.02)
    seqs = []
    for i in range(20):
        seq = await data.append(db, host, sid, "votes_updated", data.votes_data(i))
        b.hub.publish(sid, seq)
        seqs.append(seq)
    assert [e["seq"] for e in await client.events(20)] == seqs
    assert seqs[0] == start + 1
    assert a.hub.stats.notifications >= 1 and a.hub.stats.poll_catches == 0
    assert b.hub.stats.notifies <= 20  # batched: usually far fewer NOTIFYs than changes
    await client.close()


# --- two real server processes ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest_asyncio.fixture
async def two_processes(migrated_dsn: str, settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """Processes A and B: `uvicorn --factory rt_app:create_app`, one database."""
    env = dict(os.environ)
    env.update(
        QUEUEIT_TEST_DSN=migrated_dsn,
        DATA_DIR=str(settings.data_dir),
        QUEUEIT_TEST_HUB=json.dumps({"poll_interval": 3600}),  # NOTIFY only, no safety net
        PYTHONPATH=os.pathsep.join([str(HERE), str(REPO / "src"), env.get("PYTHONPATH", "")]),
    )
    procs: list[asyncio.subprocess.Process] = []
    urls = []
    for _ in range(2):
        port = _free_port()
        # fmt: off
        cmd = [
            sys.executable, "-m", "uvicorn", "--factory", "rt_app:create_app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--ws-max-size", str(settings.ws_max_message_bytes),
            "--ws-per-message-deflate", "false",
        ]
        # fmt: on
        procs.append(await asyncio.create_subprocess_exec(*cmd, env=env, cwd=HERE))
        urls.append(f"127.0.0.1:{port}")
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            deadline = time.monotonic() + 30
            for url in urls:
                while True:
                    try:
                        await http.get(f"http://{url}/nothing")
                        break
                    except httpx.TransportError:
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # LISTEN connections come up right after startup
        yield urls[0], urls[1]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()


@pytest.mark.slow
async def test_changes_made_through_process_b_reach_members_on_process_a(
    db: Database, two_processes: tuple[str, str], user: UserFactory
) -> None:
    a, b = two_processes
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    on_a = await RtClient.open(f"ws://{a}", sid, token=guest.token)
    on_b = await RtClient.open(f"ws://{b}", sid, token=host.token)
    start = (await on_a.next())["seq"]
    await on_b.next()

    async with httpx.AsyncClient(base_url=f"http://{b}", timeout=10) as http:

        async def write(i: int) -> list[int]:
            response = await http.post(
                "/_test/append",
                json={
                    "session_id": str(sid),
                    "type": "votes_updated",
                    "data": data.votes_data(i),
                    "count": 1 + i % 3,
                },
                headers={"Authorization": f"Bearer {host.token}"},
            )
            assert response.status_code == 200, response.text
            seqs: list[int] = response.json()["seqs"]
            return seqs

        batches = await asyncio.gather(*(write(i) for i in range(30)))
    total = sum(len(b) for b in batches)
    expected = list(range(start + 1, start + total + 1))
    assert sorted(s for b in batches for s in b) == expected
    assert [e["seq"] for e in await on_a.events(total)] == expected
    assert [e["seq"] for e in await on_b.events(total)] == expected
    await on_a.close()
    await on_b.close()
