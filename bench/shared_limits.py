"""Rate limits across instances (issue 25 point 2): two service processes on one database, with
the limits counted in each process (``memory://``) or in one Redis (``redis://``).

    .venv/bin/python bench/shared_limits.py                 # both stores, default limits
    .venv/bin/python bench/shared_limits.py --hits 20000    # a longer measurement of the cost

What runs where: instance A is `queueit run` on its own embedded PostgreSQL (a temporary
DATA_DIR); instance B is `queueit run` with DATABASE_URL on A's database (the same DATA_DIR, for
the development tokens). Redis is Debian's redis-server on loopback (tools/redis_server). This
process is every client, alternating its requests between A and B.

Figures, per store:
- how many of 3 x limit attempts each limit let through across both instances: writes, join
  attempts and searches per user, wrong join codes per address, and sockets one user holds
  open (the limit holds when it is 1 x);
- the extra cost per request: the time a `RateLimit.hit` takes in this process, p50 and p99
  over `--hits` hits on 1,000 keys, and the mean latency of a write through the HTTP endpoint.

Printed, and written to bench/results/shared_limits.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from benchkit import REPO, free_port, publish, start_service, stop, wait_for
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from queueit.auth.dev import mint_dev_token
from queueit.config import Settings
from queueit.http.rate_limits import Budgets, RateLimit, per_minute

sys.path.insert(0, str(REPO))
from tools.redis_server import redis_server


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def hit_cost(url: str, hits: int) -> dict[str, float]:
    budgets = Budgets(url)
    limit = RateLimit(budgets, "bench", [per_minute(10_000_000)])
    times: list[float] = []
    for n in range(hits):
        started = time.perf_counter()
        await limit.hit(f"user-{n % 1000}")
        times.append((time.perf_counter() - started) * 1e6)
    await budgets.close()
    return {"p50_us": round(percentile(times, 0.5), 1), "p99_us": round(percentile(times, 0.99), 1)}


Send = Callable[[httpx.AsyncClient], Coroutine[Any, Any, httpx.Response]]


async def passed(clients: list[httpx.AsyncClient], attempts: int, send: Send) -> int:
    """Attempts alternate between the instances; how many were not refused with 429."""
    through = 0
    for n in range(attempts):
        answer = await send(clients[n % len(clients)])
        if answer.status_code != 429:
            through += 1
    return through


async def sockets_admitted(urls: list[str], session_id: str, token: str, attempts: int) -> int:
    """Open `attempts` sockets for one user, alternating instances, all held open; how many
    were admitted (a snapshot came) rather than closed with 4029."""
    held: list[ClientConnection] = []
    admitted = 0
    try:
        for n in range(attempts):
            ws_url = urls[n % len(urls)].replace("http://", "ws://")
            ws = await connect(
                f"{ws_url}/api/v1/sessions/{session_id}/realtime",
                additional_headers={"Authorization": f"Bearer {token}"},
            )
            held.append(ws)
            try:
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            except ConnectionClosed:
                continue
            admitted += first.get("type") == "snapshot"
    finally:
        for ws in held:
            await ws.close()
    return admitted


async def measure(store: str, settings: Settings, data_dir: Path) -> dict[str, Any]:
    env = {"LIMITS_STORAGE_URL": store}
    port_a, port_b = free_port(), free_port()
    first = start_service(data_dir, port_a, **env)
    second = None
    try:
        await wait_for(f"http://127.0.0.1:{port_a}", first)
        service_dsn = f"postgresql://queueit_service@/queueit?host={data_dir / 'postgres'}"
        second = start_service(data_dir, port_b, DATABASE_URL=service_dsn, **env)
        await wait_for(f"http://127.0.0.1:{port_b}", second)
        urls = [f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"]

        def clients_for(name: str) -> list[httpx.AsyncClient]:
            token = mint_dev_token(f"{name}-{store[:5]}", settings)
            return [
                httpx.AsyncClient(
                    base_url=u, timeout=10, headers={"Authorization": f"Bearer {token}"}
                )
                for u in urls
            ]

        host = clients_for("host")
        created = (await host[0].post("/api/v1/sessions/create")).json()["session"]
        code = created["join_code"]
        rows: dict[str, Any] = {}
        limits = {
            "writes per user": settings.rate_limit_writes_per_minute,
            "join attempts per user": settings.rate_limit_joins_per_minute,
            "searches per user": settings.rate_limit_searches_per_minute,
            "wrong codes per address": settings.rate_limit_wrong_codes_per_address_per_minute,
        }
        sends: dict[str, tuple[list[httpx.AsyncClient], Send]] = {
            "writes per user": (
                clients_for("writer"),
                lambda c: c.post("/api/v1/sessions/leave"),  # 409 not in a session: a write
            ),
            "join attempts per user": (
                clients_for("joiner"),
                lambda c: c.post("/api/v1/sessions/join", json={"join_code": code}),
            ),
            "searches per user": (
                clients_for("searcher"),
                lambda c: c.get("/api/v1/spotify/search", params={"q": "love"}),
            ),
        }
        # wrong codes: accounts enough that the per-user join limit never decides
        guessers = [clients_for(f"guesser{n}") for n in range(8)]
        flat = [pair[n % 2] for n, pair in enumerate(guessers)]

        def guess(c: httpx.AsyncClient) -> Coroutine[Any, Any, httpx.Response]:
            return c.post("/api/v1/sessions/join", json={"join_code": "ZZZZZZZ9"})

        sends["wrong codes per address"] = (flat, guess)
        for name, limit in limits.items():
            clients, send = sends[name]
            attempts = 3 * limit
            rows[name] = {
                "limit": limit,
                "attempts": attempts,
                "through": await passed(clients, attempts, send),
            }
        cap = settings.ws_max_per_user
        host_token = host[0].headers["Authorization"].removeprefix("Bearer ")
        rows["sockets per user, held open"] = {
            "limit": cap,
            "attempts": 3 * cap,
            "through": await sockets_admitted(urls, created["id"], host_token, 3 * cap),
        }
        # the HTTP cost: 200 writes, mean latency (a fresh user under its 600/min)
        timer = clients_for("timer")
        started = time.perf_counter()
        for n in range(200):
            await timer[n % 2].post("/api/v1/sessions/leave")
        write_ms = (time.perf_counter() - started) / 200 * 1000
        for client in [*host, *timer, *(c for cs, _ in sends.values() for c in cs)]:
            await client.aclose()
        return {"limits": rows, "write_mean_ms": round(write_ms, 2)}
    finally:
        if second is not None:
            stop(second)
        stop(first)


def render(results: dict[str, Any], args: argparse.Namespace) -> str:
    load1, _, _ = os.getloadavg()
    stores = list(results)
    lines = [
        "# Rate limits across two instances",
        "",
        f"{platform.node()}, {os.cpu_count()} cores, load {load1:.2f} at the end. Two `queueit "
        "run` processes on one database; requests alternate between them; 3 x limit attempts.",
        "",
        "| limit | " + " | ".join(f"through, {s}" for s in stores) + " |",
        "|---|" + "---:|" * len(stores),
    ]
    for name, row in results[stores[0]]["limits"].items():
        cells = [str(results[s]["limits"][name]["through"]) for s in stores]
        lines.append(f"| {name} ({row['limit']}) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| cost | " + " | ".join(stores) + " |",
        "|---|" + "---:|" * len(stores),
        f"| `RateLimit.hit` p50, µs ({args.hits} hits) | "
        + " | ".join(str(results[s]["hit"]["p50_us"]) for s in stores)
        + " |",
        "| `RateLimit.hit` p99, µs | "
        + " | ".join(str(results[s]["hit"]["p99_us"]) for s in stores)
        + " |",
        "| a write through HTTP, mean ms | "
        + " | ".join(str(results[s]["write_mean_ms"]) for s in stores)
        + " |",
        "",
        "```json",
        json.dumps(results),
        "```",
        "",
    ]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    data_root = Path(tempfile.mkdtemp(prefix="queueit-limits-"))
    results: dict[str, Any] = {}
    try:
        with redis_server() as redis_url:
            for label, store in (("memory://", "memory://"), ("redis://", redis_url)):
                data_dir = data_root / label.rstrip(":/")
                settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
                mint_dev_token("bench-warmup", settings)  # the key, before the servers read it
                results[label] = await measure(store, settings, data_dir)
                results[label]["hit"] = await hit_cost(store, args.hits)
    finally:
        shutil.rmtree(data_root, ignore_errors=True)
    publish(render(results, args), args.out, "shared_limits.md")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=5000)
    parser.add_argument("--out", default=None, help="results file (default: bench/results/)")
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
