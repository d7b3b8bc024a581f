"""What the benchmarks that drive `queueit run` subprocesses share: a free port, starting the
service with extra environment, and waiting until it answers."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_service(data_dir: Path, port: int, **env: str) -> subprocess.Popen[bytes]:
    """`queueit run` on 127.0.0.1:port with DATA_DIR and any further settings as environment."""
    environ = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **env,
    }
    environ.setdefault("LOG_LEVEL", "ERROR")  # the 429s a benchmark provokes are expected
    return subprocess.Popen([sys.executable, "-m", "queueit", "run"], env=environ, cwd=REPO)


async def wait_for(url: str, proc: subprocess.Popen[bytes], within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def publish(text: str, out: str | None, default_name: str) -> None:
    """Print a benchmark's report and write it to `out`, else bench/results/`default_name`."""
    print(text)
    path = Path(out) if out else RESULTS / default_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
