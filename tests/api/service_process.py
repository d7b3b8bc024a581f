"""`queueit run` as a subprocess, the way a user starts the service: its own DATA_DIR (so the
embedded PostgreSQL), generous rate limits, extra settings as environment variables.

    with queueit_run(data_dir, HTTP_HEADER_TIMEOUT_SECONDS="2") as service:
        service.url, service.token("alice"), service.postmaster_pid(), service.dsn()

On exit the process gets SIGTERM (then SIGKILL), and a PostgreSQL it left behind is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from queueit.auth.dev import mint_dev_token
from queueit.config import Settings
from tools.generous_limits import generous_limits_env

START_SECONDS = 120


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"

    def postmaster_pid(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def dsn(self) -> str:
        # the superuser on the unix socket pgserver puts in the data folder
        return f"postgresql://postgres:@/queueit?host={self.pgdata}"

    def token(self, name: str) -> str:
        settings = Settings(_env_file=None, data_dir=self.data_dir)  # type: ignore[call-arg]
        return mint_dev_token(name, settings)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def log_records(self) -> list[dict[str, Any]]:
        """The service's JSON log lines so far (other output, e.g. warnings, left out)."""
        records = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    records.append(json.loads(line))
        return records


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SUPABASE_", "SPOTIFY_", "DATABASE_", "RATE_LIMIT_", "EMBEDDED_"))
        and k not in {"PROFILE", "HOST", "PORT", "DATA_DIR", "MIGRATION_DATABASE_URL"}
    }
    env.update(
        PROFILE="development",
        DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(generous_limits_env())
    env.update(extra)
    return env


@contextmanager
def queueit_run(data_dir: Path, **extra_env: str) -> Iterator[Service]:
    port = _free_port()
    log = data_dir.parent / f"service-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "queueit", "run", "--port", str(port)],
            env=_env(data_dir, **extra_env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    service = Service(process, f"http://127.0.0.1:{port}", data_dir, log)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                raise AssertionError(f"queueit run exited:\n{service.log_tail()}")
            try:
                if httpx.get(service.url + "/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"queueit run did not start:\n{service.log_tail()}")
            time.sleep(0.2)
        yield service
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # never leave a server behind, whatever the code under test did
        _stop_leftover(service)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _stop_leftover(service: Service) -> None:
    try:
        pid = service.postmaster_pid()
    except (OSError, ValueError, IndexError):
        return
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
