"""Vote endpoint benchmark (DESIGN.md §7): `POST /api/v1/songs/{id}/vote` over real sockets, and
the same SQL run directly, on this one machine.

    .venv/bin/python bench/votes.py                         # 10 s per phase, 64 clients
    .venv/bin/python bench/votes.py --duration 20 --clients 32 --users 200

What runs where:
- PostgreSQL: the embedded pgserver in a temporary folder (or --dsn of a migrated database).
- The service: `create_app` under uvicorn (uvloop, httptools) in a subprocess, as `queueit run`
  serves it, with rate limits out of the way.
- Load (this process): `--clients` keep-alive HTTP/1.1 connections, each sending one vote after
  the other (a minimal client, so the generator's own cost stays small). Every vote changes the
  caller's vote (+1 and -1 alternate), so every request writes a vote row and a
  `votes_updated` event: the worst case, no no-op shortcut.
- Direct: the same work without HTTP — `Database.user_tx` (BEGIN, claims, role) +
  `select * from app.cast_vote($1, $2)` + COMMIT, from `--clients` concurrent tasks over a pool
  as large as the service's.

Figures: votes/s, latency p50/p99 for both paths, and their ratio (target: HTTP ≤ 2x the direct
cost; ≥ 1000 votes/s at p99 ≤ 50 ms). The table is printed and written to
bench/results/votes.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


# --- the server subprocess ---------------------------------------------------------------------


def serve(dsn: str, data_dir: str, port: int, pool: int) -> None:
    """Entry point of the server subprocess."""
    import uvicorn

    from queueit.app import create_app
    from queueit.config import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=Path(data_dir),
        db_pool_max=pool,
        rate_limit_writes_per_minute=100_000_000,
        rate_limit_joins_per_minute=100_000_000,
        log_level="WARNING",
    )

    def run() -> None:
        uvicorn.run(
            create_app(settings, dsn=dsn),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            loop="uvloop",
            http="httptools",
        )

    profile_to = os.environ.get("QUEUEIT_BENCH_PROFILE")
    if not profile_to:
        run()
        return
    import cProfile
    import signal

    def exit_on_term(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, exit_on_term)  # uvicorn re-raises it after its shutdown
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        run()
    finally:
        profiler.disable()
        profiler.dump_stats(profile_to)


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def postgres_cpu(postmaster: int) -> float:
    """CPU of the PostgreSQL server: the postmaster and its children (backends, WAL writer...)."""
    total = cpu_seconds(postmaster)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def postmaster_pid(dsn: str) -> int | None:
    """The postmaster of an embedded server (its pid file sits next to the unix socket)."""
    from urllib.parse import parse_qs, urlsplit

    host = parse_qs(urlsplit(dsn).query).get("host", [""])[0]
    for folder in (Path(host), Path(host).parent):
        pid_file = folder / "postmaster.pid"
        if pid_file.is_file():
            return int(pid_file.read_text().split()[0])
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- a minimal keep-alive HTTP/1.1 client -------------------------------------------------------


class Http:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> Http:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, token: str, body: Any | None = None
    ) -> tuple[int, bytes]:
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


# --- setup ---------------------------------------------------------------------------------------


@dataclass
class Plan:
    tokens: list[str]
    user_ids: list[uuid.UUID]
    claims: list[dict[str, Any]]
    entries: list[list[str]]  # by user: the queued songs of that user's session


async def setup(port: int, data_dir: Path, users: int, sessions: int, songs: int) -> Plan:
    """`sessions` sessions with `users` members in all and `songs` queued songs each."""
    import jwt

    from queueit.auth.dev import mint_dev_token
    from queueit.config import Settings

    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    names = [f"bench-{i}-{secrets.token_hex(3)}" for i in range(users)]
    tokens = [mint_dev_token(n, settings) for n in names]
    claims = [jwt.decode(t, options={"verify_signature": False}) for t in tokens]
    entries: list[list[str]] = [[] for _ in range(users)]
    http = await Http.connect(port)
    try:
        for k in range(sessions):
            members = list(range(k, users, sessions))
            status, body = await http.request(
                "POST", "/api/v1/sessions/create", tokens[members[0]], {}
            )
            assert status == 200, body
            code = json.loads(body)["session"]["join_code"]
            for m in members[1:]:
                status, body = await http.request(
                    "POST", "/api/v1/sessions/join", tokens[m], {"join_code": code}
                )
                assert status == 200, body
            queued = []
            for i in range(songs):
                track = {
                    "id": f"BENCH{i:04d}{secrets.token_hex(6)}",
                    "name": f"Bench song {i}",
                    "artists": "Bench",
                    "album": "Bench",
                    "duration_ms": 200_000,
                }
                adder = tokens[members[i % len(members)]]
                status, body = await http.request("POST", "/api/v1/songs/add", adder, track)
                assert status == 200, body
                queued.append(json.loads(body)["id"])
            for m in members:
                entries[m] = queued
    finally:
        http.close()
    return Plan(tokens, [uuid.UUID(c["sub"]) for c in claims], claims, entries)


# --- load ----------------------------------------------------------------------------------------


@dataclass
class Run:
    count: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    app_cpu: float = 0.0  # the service (HTTP) or this process (direct), during the measurement
    db_cpu: float = 0.0  # PostgreSQL, during the measurement

    @property
    def cpu_ms_per_vote(self) -> float:
        return 1000 * (self.app_cpu + self.db_cpu) / self.count if self.count else float("nan")

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        values = sorted(self.latencies_ms)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(q * len(values)))]


@dataclass
class Cpu:
    """CPU seconds of (the application side, PostgreSQL) so far."""

    app_pid: int
    postmaster: int | None

    def read(self) -> tuple[float, float]:
        db = postgres_cpu(self.postmaster) if self.postmaster else 0.0
        return cpu_seconds(self.app_pid), db


class Votes:
    """Who votes next: each client walks its own users and their session's songs, and flips
    that user's vote on that song (+1, -1, +1, ...), so every vote is a change. Kept across the
    two phases, so the direct phase goes on from where the HTTP phase left the votes."""

    def __init__(self, plan: Plan, client: int, clients: int) -> None:
        self.plan = plan
        self.users = list(range(client, len(plan.tokens), clients)) or [client % len(plan.tokens)]
        self.n = 0
        self.last: dict[tuple[int, int], int] = {}

    def next(self) -> tuple[int, str, int]:
        user = self.users[self.n % len(self.users)]
        songs = self.plan.entries[user]
        entry = (self.n // len(self.users)) % len(songs)
        self.n += 1
        value = -self.last.get((user, entry), -1)
        self.last[(user, entry)] = value
        return user, songs[entry], value


async def run_http(
    port: int, plan: Plan, walkers: list[Votes], warmup: float, duration: float, cpu: Cpu
) -> Run:
    clients = len(walkers)
    conns = [await Http.connect(port) for _ in range(clients)]
    latencies: list[float] = []
    counted = errors = 0
    measuring = False
    stop = False

    async def client(i: int) -> None:
        nonlocal counted, errors
        while not stop:
            user, entry, value = walkers[i].next()
            t0 = time.perf_counter()
            status, _ = await conns[i].request(
                "POST",
                f"/api/v1/songs/{entry}/vote",
                plan.tokens[user],
                {"vote_value": value},
            )
            if measuring and not stop:
                latencies.append((time.perf_counter() - t0) * 1000)
                counted += 1
                if status != 200:
                    errors += 1

    tasks = [asyncio.create_task(client(i)) for i in range(clients)]
    await asyncio.sleep(warmup)
    measuring, started, before = True, time.perf_counter(), cpu.read()
    await asyncio.sleep(duration)
    stop, elapsed, after = True, time.perf_counter() - started, cpu.read()
    await asyncio.gather(*tasks)
    for c in conns:
        c.close()
    return Run(counted, errors, elapsed, latencies, after[0] - before[0], after[1] - before[1])


async def run_http_rate(
    port: int,
    plan: Plan,
    walkers: list[Votes],
    rate: float,
    connections: int,
    warmup: float,
    duration: float,
    cpu: Cpu,
) -> Run:
    """Open loop: votes are sent at `rate` per second whatever the answers do, and each latency
    runs from when its vote was due (so a slow server cannot hide behind fewer requests)."""
    idle: asyncio.Queue[Http] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Http.connect(port))
    latencies: list[float] = []
    counted = errors = 0
    begin = time.perf_counter()
    measure_from, measure_to = begin + warmup, begin + warmup + duration
    pending: set[asyncio.Task[None]] = set()

    async def one(due: float, user: int, entry: str, value: int) -> None:
        nonlocal counted, errors
        conn = await idle.get()
        try:
            status, _ = await conn.request(
                "POST", f"/api/v1/songs/{entry}/vote", plan.tokens[user], {"vote_value": value}
            )
        finally:
            idle.put_nowait(conn)
        if measure_from <= due < measure_to:
            latencies.append((time.perf_counter() - due) * 1000)
            counted += 1
            if status != 200:
                errors += 1

    n = 0
    before = after = cpu.read()
    while True:
        due = begin + n / rate
        if due >= measure_to:
            break
        if before is after and due >= measure_from:
            before = cpu.read()
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        user, entry, value = walkers[n % len(walkers)].next()
        task = asyncio.create_task(one(due, user, entry, value))
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
    after = cpu.read()
    await asyncio.gather(*pending)
    while not idle.empty():
        idle.get_nowait().close()
    return Run(counted, errors, duration, latencies, after[0] - before[0], after[1] - before[1])


async def run_direct(
    dsn: str, plan: Plan, walkers: list[Votes], pool: int, warmup: float, duration: float, cpu: Cpu
) -> Run:
    clients = len(walkers)
    from queueit.db import Database

    db = Database(dsn, min_size=pool, max_size=pool)
    await db.start()
    latencies: list[float] = []
    counted = errors = 0
    measuring = False
    stop = False

    async def client(i: int) -> None:
        nonlocal counted, errors
        while not stop:
            user, entry, value = walkers[i].next()
            t0 = time.perf_counter()
            async with db.user_tx(plan.user_ids[user], plan.claims[user]) as conn:
                row = await conn.fetchrow(
                    "select * from app.cast_vote($1, $2)", uuid.UUID(entry), value
                )
            if measuring and not stop:
                latencies.append((time.perf_counter() - t0) * 1000)
                counted += 1
                if row is None or row["outcome"] != "ok":
                    errors += 1

    try:
        tasks = [asyncio.create_task(client(i)) for i in range(clients)]
        await asyncio.sleep(warmup)
        measuring, started, before = True, time.perf_counter(), cpu.read()
        await asyncio.sleep(duration)
        stop, elapsed, after = True, time.perf_counter() - started, cpu.read()
        await asyncio.gather(*tasks)
    finally:
        await db.close()
    return Run(counted, errors, elapsed, latencies, after[0] - before[0], after[1] - before[1])


# --- report --------------------------------------------------------------------------------------


def render(args: argparse.Namespace, http: Run, direct: Run, paced: Run) -> str:
    ratio = direct.rate / http.rate if http.rate else float("inf")

    def row(figure: str, value: str, target: str, good: bool | None) -> str:
        mark = "" if good is None else (" ✅" if good else " ❌")
        return f"| {figure} | {value} | {target}{mark} |"

    lines = [
        "# Vote endpoint benchmark",
        "",
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%SZ')} · {platform.platform()} ·"
        f" {os.cpu_count()} CPUs · Python {platform.python_version()} ·"
        f" {args.clients} concurrent clients · {args.users} voters in {args.sessions} sessions ·"
        f" {args.songs} songs each · open loop at {args.rate:,.0f}/s ·"
        f" {args.duration:g} s per phase after {args.warmup:g} s warm-up · pool {args.pool}",
        "",
        "Service, PostgreSQL (embedded, default durability) and load generator on this machine;"
        f" load average when the run started: {args.load_before:.2f} (anything above 0 is other"
        " work competing for the same cores).",
        "Every vote changes the caller's vote: one vote row + one `votes_updated` event each.",
        "",
        "| figure | value | target |",
        "| --- | --- | --- |",
        row("HTTP votes/s (closed loop, max)", f"{http.rate:,.0f}", "≥ 1,000", http.rate >= 1000),
        row(
            "HTTP p50 / p99 latency (closed loop)",
            f"{http.pct(0.50):.1f} / {http.pct(0.99):.1f} ms",
            "",
            None,
        ),
        row(
            f"HTTP p50 latency at {args.rate:,.0f} votes/s (open loop)",
            f"{paced.pct(0.50):.1f} ms",
            "",
            None,
        ),
        row(
            f"HTTP p99 latency at {args.rate:,.0f} votes/s (open loop)",
            f"{paced.pct(0.99):.1f} ms",
            "≤ 50 ms",
            paced.pct(0.99) <= 50,
        ),
        row("HTTP errors", f"{http.errors + paced.errors}", "0", http.errors + paced.errors == 0),
        row("direct SQL votes/s", f"{direct.rate:,.0f}", "", None),
        row("direct SQL p50 latency", f"{direct.pct(0.50):.1f} ms", "", None),
        row("direct SQL p99 latency", f"{direct.pct(0.99):.1f} ms", "", None),
        row("direct SQL errors", f"{direct.errors}", "0", direct.errors == 0),
        row("throughput ratio (direct ÷ HTTP votes/s)", f"{ratio:.2f}x", "≤ 2x", ratio <= 2),
    ]
    if http.db_cpu and direct.db_cpu:
        cost = http.cpu_ms_per_vote / direct.cpu_ms_per_vote
        lines += [
            row(
                "CPU per vote, HTTP (service + PostgreSQL)",
                f"{http.cpu_ms_per_vote:.2f} ms ({1000 * http.app_cpu / http.count:.2f} + "
                f"{1000 * http.db_cpu / http.count:.2f})",
                "",
                None,
            ),
            row(
                "CPU per vote, direct (client + PostgreSQL)",
                f"{direct.cpu_ms_per_vote:.2f} ms ({1000 * direct.app_cpu / direct.count:.2f} + "
                f"{1000 * direct.db_cpu / direct.count:.2f})",
                "",
                None,
            ),
            row("cost ratio (CPU per vote, HTTP ÷ direct)", f"{cost:.2f}x", "≤ 2x", cost <= 2),
        ]
    return "\n".join(lines) + "\n"


async def main_async(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="queueit-bench-votes-"))
    server_proc = None
    try:
        from queueit.db import apply, start_embedded

        dsn = args.dsn or await asyncio.to_thread(start_embedded, root / "pg")
        await apply(dsn)
        data_dir = root / "data"
        data_dir.mkdir()
        port = free_port()
        server_proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
            [sys.executable, __file__, "--serve", dsn, str(data_dir), str(port), str(args.pool)],
            cwd=REPO,
        )
        for _ in range(600):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            if server_proc.poll() is not None:
                raise RuntimeError("the server exited while starting")
            await asyncio.sleep(0.1)
        plan = await setup(port, data_dir, args.users, args.sessions, args.songs)
        print(f"setup: {args.sessions} sessions, {args.users} members; measuring...")
        walkers = [Votes(plan, i, args.clients) for i in range(args.clients)]
        postmaster = postmaster_pid(dsn)
        http = await run_http(
            port, plan, walkers, args.warmup, args.duration, Cpu(server_proc.pid, postmaster)
        )
        paced = await run_http_rate(
            port,
            plan,
            walkers,
            args.rate,
            args.clients,
            args.warmup,
            args.duration,
            Cpu(server_proc.pid, postmaster),
        )
        direct = await run_direct(
            dsn, plan, walkers, args.pool, args.warmup, args.duration, Cpu(os.getpid(), postmaster)
        )
        report = render(args, http, direct, paced)
        print(report)
        out = args.out or RESULTS / "votes.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report, encoding="utf-8")
        print(f"written to {out}")
        return 0
    finally:
        if server_proc is not None:
            server_proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server_proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--serve":
        serve(argv[1], argv[2], int(argv[3]), int(argv[4]))
        return 0
    p = argparse.ArgumentParser(description="QueueIT vote endpoint benchmark (DESIGN §7)")
    p.add_argument("--clients", type=int, default=64, help="concurrent connections / tasks")
    p.add_argument("--users", type=int, default=200, help="members who vote")
    p.add_argument("--sessions", type=int, default=20, help="sessions the members are in")
    p.add_argument("--songs", type=int, default=20, help="queued songs per session")
    p.add_argument("--duration", type=float, default=10.0, help="seconds measured per phase")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    p.add_argument("--rate", type=float, default=1000.0, help="votes/s of the open-loop phase")
    p.add_argument("--pool", type=int, default=20, help="database pool size (both paths)")
    p.add_argument("--dsn", default=None, help="a migrated database instead of an embedded one")
    p.add_argument("--out", type=Path, default=None, help="result file (bench/results/votes.md)")
    args = p.parse_args(argv)
    args.load_before = os.getloadavg()[0]
    import uvloop

    return uvloop.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
