"""The embedded PostgreSQL under a real `queueit run` process: restarted when killed (no
acknowledged write lost), stopped with the service on SIGTERM, and `/livez` failing once the
supervisor gives up. Each test runs the CLI as a subprocess with its own DATA_DIR (one data
folder for the module, so initdb runs once) and kills the postmaster with SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from apikit import track
from service_process import alive, queueit_run

RECOVERY_BOUND_SECONDS = 30  # what the test allows; the measured time is printed


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded") / "data"


async def test_killed_postgres_is_restarted_under_load_and_no_acknowledged_write_is_lost(
    data_dir: Path,
) -> None:
    with queueit_run(data_dir) as service:
        names = [f"writer-{i}-{os.getpid()}" for i in range(6)]
        clients = [
            httpx.AsyncClient(
                base_url=service.url,
                headers={"Authorization": f"Bearer {service.token(name)}"},
                timeout=10,
            )
            for name in names
        ]
        try:
            created = await clients[0].post(
                "/api/v1/sessions/create", json={"settings": {"max_queued_per_user": 1000}}
            )
            assert created.status_code == 200, created.text
            session = created.json()["session"]
            for guest in clients[1:]:
                joined = await guest.post(
                    "/api/v1/sessions/join", json={"join_code": session["join_code"]}
                )
                assert joined.status_code == 200, joined.text

            acknowledged: list[tuple[float, str]] = []  # (when, queue entry id) of every 2xx
            failures: dict[int, int] = {}
            stop = asyncio.Event()

            async def write(client: httpx.AsyncClient) -> None:
                while not stop.is_set():
                    try:
                        response = await client.post("/api/v1/songs/add", json=track())
                    except httpx.TransportError:
                        failures[0] = failures.get(0, 0) + 1
                        await asyncio.sleep(0.05)
                        continue
                    if 200 <= response.status_code < 300:
                        acknowledged.append((time.monotonic(), response.json()["id"]))
                    else:
                        failures[response.status_code] = failures.get(response.status_code, 0) + 1
                        await asyncio.sleep(0.05)

            writers = [asyncio.create_task(write(client)) for client in clients]
            await asyncio.sleep(2)
            before = len(acknowledged)
            assert before > 0, failures
            old_pid = service.postmaster_pid()
            killed = time.monotonic()
            os.kill(old_pid, signal.SIGKILL)
            # keep writing until writes succeed again, then a little longer
            while not any(when > killed + 0.1 for when, _ in acknowledged):
                assert time.monotonic() - killed < RECOVERY_BOUND_SECONDS, (
                    f"no write succeeded within {RECOVERY_BOUND_SECONDS} s of killing PostgreSQL;"
                    f" answers: {failures}\n{service.log_tail()}"
                )
                await asyncio.sleep(0.05)
            recovered = min(when for when, _ in acknowledged if when > killed + 0.1) - killed
            await asyncio.sleep(1)
            stop.set()
            await asyncio.gather(*writers)

            assert service.postmaster_pid() != old_pid
            assert (await clients[0].get("/healthz")).status_code == 200
            assert (await clients[0].get("/livez")).status_code == 200
            conn = await asyncpg.connect(service.dsn())
            try:
                rows = await conn.fetch(
                    "select id::text from queueit.queue_entries where session_id = $1::uuid",
                    session["id"],
                )
            finally:
                await conn.close()
            stored = {row["id"] for row in rows}
            lost = [entry for _, entry in acknowledged if entry not in stored]
            print(
                f"\nembedded kill -9 under load: recovered in {recovered:.2f} s,"
                f" {len(acknowledged)} writes acknowledged ({before} before the kill),"
                f" {len(lost)} lost; other answers {failures}"
            )
            assert lost == []
            assert set(failures) <= {503}, failures  # down means 503 (retry), never a 500
            assert len(acknowledged) > before
        finally:
            for client in clients:
                await client.aclose()


def test_sigterm_stops_the_embedded_postgres(data_dir: Path) -> None:
    with queueit_run(data_dir) as service:
        pid = service.postmaster_pid()
        assert alive(pid)
        service.process.send_signal(signal.SIGTERM)
        service.process.wait(30)
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid), "the embedded PostgreSQL outlived `queueit run` after SIGTERM"


async def test_livez_fails_once_the_supervisor_gives_up(data_dir: Path) -> None:
    with queueit_run(data_dir, EMBEDDED_DB_MAX_RESTARTS="0") as service:
        async with httpx.AsyncClient(base_url=service.url, timeout=5) as client:
            assert (await client.get("/livez")).status_code == 200
            os.kill(service.postmaster_pid(), signal.SIGKILL)
            deadline = time.monotonic() + 10
            response = await client.get("/livez")
            while response.status_code == 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                response = await client.get("/livez")
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert body["code"] == "unhealthy"
            assert "gave up" in body["detail"]
            assert body["request_id"] == response.headers["x-request-id"]


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(30)


@pytest.mark.parametrize("restarter_stops_first", [True, False])
def test_two_services_on_one_folder_stop_the_postgres_either_restarted(
    data_dir: Path, restarter_stops_first: bool
) -> None:
    """Before: after one of two services restarted the killed PostgreSQL, stopping both left
    it running when the one that restarted it stopped first (the other, which never saw it
    die, still held the dead server's pid as the one to stop). The second service checks too
    rarely to notice the kill, so the first restarts it."""
    with (
        queueit_run(data_dir) as first,
        queueit_run(data_dir, EMBEDDED_DB_CHECK_SECONDS="3600") as second,
    ):
        killed = first.postmaster_pid()
        assert second.postmaster_pid() == killed  # one server for the folder
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + RECOVERY_BOUND_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, IndexError):
                if first.postmaster_pid() != killed and alive(first.postmaster_pid()):
                    break
            time.sleep(0.1)
        restarted = first.postmaster_pid()
        assert restarted != killed and alive(restarted)
        while time.monotonic() < deadline:  # the first service works on it again
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(first.url + "/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        # The killed postmaster gone for good (reaped, not a zombie: psutil takes a zombie for
        # a running process, and the old code then stopped the right server by luck).
        while psutil.pid_exists(killed) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "starting it again" in first.log.read_text()
        assert "starting it again" not in second.log.read_text()
        order = (first, second) if restarter_stops_first else (second, first)
        _stop(order[0].process)
        assert alive(restarted), "stopped while the other service still uses it"
        _stop(order[1].process)
        deadline = time.monotonic() + 10
        while alive(restarted) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(restarted), "both services stopped, the embedded PostgreSQL runs on"
