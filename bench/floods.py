"""Floods from one address (issue 25 point 3): what a reader, a forger and a socket opener get
through per second, and what refusing them costs the server.

    .venv/bin/python bench/floods.py                 # 10 s per scenario
    .venv/bin/python bench/floods.py --duration 30

What runs where: `queueit run` in a subprocess on its own embedded PostgreSQL, with the limits as
configured (environment, else the defaults). This process is the attacker, on 127.0.0.1, with
`--concurrency` requests in flight:

- reads: one member asks for `GET /events?limit=500` as fast as it can;
- failed authentications: five kinds in turn (none, garbage, expired, forged signature,
  not a bearer credential) on `GET /sessions/current`;
- token-less sockets: WebSocket upgrades without a token, closed as soon as they are answered.

Figures per scenario: answers per second by status (or close code), bytes per second of
answers that carried data, and the server's CPU time per 1,000 requests. The first minute
holds each limit's whole budget: a short run shows the budget spent, then the refusals.
Printed, and written to bench/results/floods.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from benchkit import free_port, publish, start_service, stop, wait_for
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from queueit.auth.dev import mint_dev_token
from queueit.config import Settings

Attempt = Callable[[int], Awaitable[tuple[str, int]]]


async def flood(
    attempt: Attempt, duration: float, concurrency: int, server_pid: int
) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    carried = 0
    end = time.monotonic() + duration
    process = psutil.Process(server_pid)
    cpu_before = sum(process.cpu_times()[:2])

    async def worker(n: int) -> None:
        nonlocal carried
        while time.monotonic() < end:
            outcome, size = await attempt(n)
            counts[outcome] += 1
            carried += size

    started = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    seconds = time.monotonic() - started
    cpu = sum(process.cpu_times()[:2]) - cpu_before
    total = sum(counts.values())
    return {
        "per_second": {k: round(v / seconds, 1) for k, v in sorted(counts.items())},
        "data_mib_per_second": round(carried / seconds / 2**20, 2),
        "server_cpu_ms_per_1000": round(cpu / max(total, 1) * 1e6, 1),
        "requests": total,
    }


async def main_async(args: argparse.Namespace) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="queueit-floods-"))
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    member = mint_dev_token("flood-reader", settings)  # the key, before the server reads it
    expired = mint_dev_token("flood-late", settings, now=time.time() - 3 * 24 * 3600)
    header, payload, _ = expired.split(".")
    port = free_port()
    proc = start_service(data_dir, port)
    url = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    try:
        await wait_for(url, proc)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            auth = {"Authorization": f"Bearer {member}"}
            created = (await http.post("/api/v1/sessions/create", headers=auth)).json()
            sid = created["session"]["id"]

            async def read(_n: int) -> tuple[str, int]:
                answer = await http.get(
                    f"/api/v1/sessions/{sid}/events", params={"limit": 500}, headers=auth
                )
                return str(answer.status_code), len(answer.content) * (answer.status_code == 200)

            kinds: list[dict[str, str]] = [
                {},
                {"Authorization": "Bearer garbage"},
                {"Authorization": f"Bearer {expired}"},
                {"Authorization": f"Bearer {header}.{payload}.{'A' * 43}"},
                {"Authorization": "Basic dXNlcjpwdw=="},
            ]
            sent = iter(range(10**9))

            async def forge(_n: int) -> tuple[str, int]:
                answer = await http.get(
                    "/api/v1/sessions/current", headers=kinds[next(sent) % len(kinds)]
                )
                return str(answer.status_code), 0

            ws_url = f"ws://127.0.0.1:{port}/api/v1/sessions/{sid}/realtime"

            async def open_tokenless(_n: int) -> tuple[str, int]:
                async with connect(ws_url, open_timeout=10) as ws:
                    try:
                        await asyncio.wait_for(ws.recv(), 0.05)
                    except TimeoutError:
                        return "waiting for auth", 0  # admitted: it would have 10 s to send it
                    except ConnectionClosed as closed:
                        return f"closed {closed.rcvd.code if closed.rcvd else '-'}", 0
                    return "message", 0

            pid = proc.pid
            results["reads of 500 events"] = await flood(read, args.duration, args.concurrency, pid)
            results["failed authentications"] = await flood(
                forge, args.duration, args.concurrency, pid
            )
            results["token-less sockets"] = await flood(
                open_tokenless, args.duration, args.concurrency, pid
            )
    finally:
        stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)
    publish(render(results, args), args.out, "floods.md")
    return 0


def render(results: dict[str, Any], args: argparse.Namespace) -> str:
    load1, _, _ = os.getloadavg()
    lines = [
        "# Floods from one address",
        "",
        f"{platform.node()}, {os.cpu_count()} cores, load {load1:.2f} at the end; "
        f"{args.duration:g} s per scenario, {args.concurrency} in flight, default limits.",
        "",
        "| scenario | answers per second | data MiB/s | server CPU ms per 1,000 |",
        "|---|---|---:|---:|",
    ]
    for name, row in results.items():
        answers = ", ".join(f"{k}: {v}" for k, v in row["per_second"].items())
        lines.append(
            f"| {name} | {answers} | {row['data_mib_per_second']} "
            f"| {row['server_cpu_ms_per_1000']} |"
        )
    lines += ["", "```json", json.dumps(results), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", default=None, help="results file (default: bench/results/)")
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
