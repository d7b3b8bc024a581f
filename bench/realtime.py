"""Realtime benchmark (DESIGN.md §7): N sessions x M members as real WebSocket clients against a
real server process and PostgreSQL, with votes committed at R per second.

    .venv/bin/python bench/realtime.py                      # default: a few minutes on 2 cores
    .venv/bin/python bench/realtime.py --full               # 100 x 50 members, 200 votes/s, 60 s
    .venv/bin/python bench/realtime.py --sessions 100 --members 50 --rate 200 --duration 60

What runs where (all on this machine):
- PostgreSQL: the embedded pgserver in a temporary folder (or --dsn).
- The server: a subprocess. `--server queueit` (default): `python -m queueit run`, exactly what
  production runs, with DATABASE_URL pointing at the benchmark's database. `--server service`:
  the same app built by tests/realtime/rt_app.py:create_service_app (which, like production,
  always mounts `RealtimeShortcut`), which also takes `--gc-threshold`. `--server rt`: only the
  realtime router, with a test snapshot loader (tests/realtime/rt_app.py:create_app); `--shortcut`
  mounts `RealtimeShortcut` on it.
- Clients: `--client-procs` processes, each holding its share of the sockets (websockets asyncio
  client, no compression, like the iOS app), spread over loopback source addresses so that no
  address exceeds the server's per-address caps. Every socket checks that seqs arrive in order,
  without gaps or duplicates, and stamps the arrival of every event.
- Writer (this process): every change is a vote that flips a member's vote on an entry (so each
  one changes the total and makes exactly one `votes_updated`). Votes on one entry are never in
  flight together, so the k-th event of an entry belongs to its k-th vote.
  `--write-path vote-api` (default with a REST server): `POST /api/v1/songs/{id}/vote` as the
  member; the server commits and publishes locally. The event is timed from the moment the
  request was sent (an upper bound: the commit happens somewhere inside the request); the
  table also shows the lower bound, from when the response arrived.
  `--write-path sql-notify`: `app.cast_vote` in the member's RLS transaction straight on the
  database, commit stamped when COMMIT returns, then `RealtimeHub.publish` of a hub in this
  process (batched NOTIFY): the cross-process path of a multi-instance deployment.

Figures: commit-to-delivery latency p50/p95/p99 (CLOCK_MONOTONIC is system-wide on Linux, so
stamps from different processes compare), delivered events/s, lost / out-of-order / duplicate
deliveries, server RSS per idle socket (VmRSS before and after connecting them), and bytes of one
vote delta vs refetching a 50-song queue (GET /sessions/current when the server has it, else the
CurrentSessionResponse body of a snapshot plus typical response headers). The table is printed
and written to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import resource
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
RT_APP_DIR = REPO / "tests" / "realtime"

TARGET_P99_MS = 50.0
TARGET_RATIO = 20.0
TARGET_KIB_PER_SOCKET = 20.0
HTTP_HEADER_BYTES = 160  # status line + content-type, length, date, server, x-request-id


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1_048_576
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its own threads; children are counted separately)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
    return pids


def cpu_snapshot(groups: dict[str, list[int]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for name, pids in groups.items():
        total = 0.0
        for pid in pids:
            with contextlib.suppress(OSError):
                total += cpu_seconds(pid)
        totals[name] = total
    return totals


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return float(sum(values) - idle), float(sum(values))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


# --- setup --------------------------------------------------------------------------------------


@dataclass
class Member:
    name: str
    id: uuid.UUID
    token: str
    claims: dict[str, Any]


@dataclass
class BenchSession:
    id: uuid.UUID
    entries: list[uuid.UUID]
    members: list[Member] = field(default_factory=list)


async def setup_data(
    dsn: str, settings: Any, sessions: int, members: int, songs: int
) -> list[BenchSession]:
    """Users, sessions, memberships and a queue of `songs` entries per session (login role,
    in bulk: setup is not what is measured)."""
    import asyncpg
    import jwt

    from queueit.auth.dev import mint_dev_token

    run = secrets.token_hex(3)
    plan: list[BenchSession] = []
    profiles = []
    for s in range(sessions):
        bs = BenchSession(uuid.uuid4(), [])
        for m in range(members):
            name = f"b{run}-{s}-{m}"
            token = mint_dev_token(name, settings)
            claims = jwt.decode(token, options={"verify_signature": False})
            member = Member(name, uuid.UUID(claims["sub"]), token, claims)
            bs.members.append(member)
            profiles.append((member.id, name, f"{name}@queueit.local"))
        plan.append(bs)
    tracks = [
        (
            f"bench{run}{i:03d}",
            f"Track {i} of a long evening",
            "The Lantern Club, Ivy Marsh",
            "Night Ferries",
            180_000 + i * 1000,
            f"https://images.queueit.invalid/covers/{i}.jpg",
        )
        for i in range(songs)
    ]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.executemany(
                "insert into queueit.profiles (id, username, email) values ($1, $2, $3)", profiles
            )
            await conn.executemany(
                "insert into queueit.tracks (id, name, artists, album, duration_ms, image_url)"
                " values ($1, $2, $3, $4, $5, $6)",
                tracks,
            )
            await conn.executemany(
                "insert into queueit.sessions (id, host_id) values ($1, $2)",
                [(bs.id, bs.members[0].id) for bs in plan],
            )
            rows = []
            for bs in plan:
                for i, member in enumerate(bs.members):
                    rows.append((member.id, bs.id, "host" if i == 0 else "guest"))
            await conn.executemany(
                "insert into queueit.session_members (user_id, session_id, role) values ($1, $2,"
                " $3)",
                rows,
            )
            entries = []
            for bs in plan:
                for i, track in enumerate(tracks):
                    entry = uuid.uuid4()
                    bs.entries.append(entry)
                    adder = bs.members[i % len(bs.members)].id
                    entries.append((entry, bs.id, track[0], adder))
            await conn.executemany(
                "insert into queueit.queue_entries (id, session_id, track_id, added_by)"
                " values ($1, $2, $3, $4)",
                entries,
            )
    finally:
        await conn.close()
    return plan


# --- server -------------------------------------------------------------------------------------


def start_server(
    kind: str, dsn: str, data_dir: Path, port: int, shortcut: bool, gc_threshold: str | None
) -> Any:
    import subprocess

    env = dict(os.environ)
    env.update(
        DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        # votes come from every member of a session; the per-user limits stay as configured
        QUEUEIT_TEST_DSN=dsn,
        QUEUEIT_TEST_SHORTCUT="1" if shortcut else "0",
        QUEUEIT_TEST_GC_THRESHOLD=gc_threshold or "",
        PYTHONPATH=os.pathsep.join(
            p for p in (str(RT_APP_DIR), str(REPO / "src"), env.get("PYTHONPATH")) if p
        ),
    )
    if kind == "queueit":
        env.update(DATABASE_URL=dsn, HOST="127.0.0.1", PORT=str(port))
        return subprocess.Popen([sys.executable, "-m", "queueit", "run"], env=env, cwd=REPO)
    factory = "rt_app:create_app" if kind == "rt" else "rt_app:create_service_app"
    # fmt: off
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", factory,
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--no-access-log", "--ws-max-size", "16384", "--ws-per-message-deflate", "false",
    ]
    # fmt: on
    return subprocess.Popen(cmd, env=env, cwd=RT_APP_DIR)


async def wait_for_server(port: int, proc: Any, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


# --- clients (one process per --client-procs) ----------------------------------------------------


def source_address(sock_id: int, per_address: int) -> str:
    """The loopback address socket `sock_id` connects from. A party's phones come from many
    addresses; the server caps sockets per address (WS_MAX_PER_ADDRESS, and sockets still
    authenticating by WS_MAX_UNAUTHENTICATED_PER_ADDRESS), so the benchmark spreads its sockets
    over 127.0.0.2, 127.0.0.3, ... (all of 127.0.0.0/8 is loopback on Linux), `per_address` each,
    and measures the server with its caps as configured."""
    n = 2 + sock_id // per_address
    return f"127.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def sockets_per_address(settings: Any) -> int:
    # the sockets carry their token on the upgrade: the unauthenticated cap never applies
    return max(1, settings.ws_max_per_address)


def client_main(
    pipe: Pipe,
    url: str,
    sockets: list[tuple[int, int, str, str]],
    concurrency: int,
    per_address: int,
) -> None:
    """Worker process: hold `sockets` = [(socket id, session index, session id, token)]."""
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(_client_run(pipe, url, sockets, concurrency, per_address))


async def _client_run(
    pipe: Pipe,
    url: str,
    sockets: list[tuple[int, int, str, str]],
    concurrency: int,
    per_address: int,
) -> None:
    import orjson
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    state = {"stop": False}
    # (socket id, session index, seq, entry of a votes_updated, arrival)
    stamps: list[tuple[int, int, int, str | None, float]] = []
    bad = {"gaps": 0, "out_of_order": 0, "duplicates": 0, "closed": 0, "errors": 0}
    sizes: dict[str, int] = {}
    snapshot_bytes: list[int] = []
    ready = asyncio.Semaphore(concurrency)
    opened: list[Any] = []

    async def hold(sock_id: int, index: int, session_id: str, token: str) -> None:
        async with ready:
            ws = await connect(
                f"{url}/api/v1/sessions/{session_id}/realtime",
                additional_headers={"Authorization": f"Bearer {token}"},
                compression=None,
                open_timeout=120,
                max_queue=64,
                local_addr=(source_address(sock_id, per_address), 0),
            )
            first = orjson.loads(await ws.recv())
            if first["type"] != "snapshot":
                raise RuntimeError(f"socket {sock_id}: first message {first['type']!r}")
            snapshot_bytes.append(len(orjson.dumps(first["data"])))
            opened.append(ws)
        last = first["seq"]
        try:
            async for raw in ws:
                now = time.monotonic()
                message = orjson.loads(raw)
                kind = message["type"]
                if kind == "ping":
                    await ws.send('{"type":"pong"}')
                    continue
                seq = message.get("seq")
                if seq is None:
                    continue
                if kind not in sizes:
                    sizes[kind] = len(raw.encode() if isinstance(raw, str) else raw)
                entry = message["data"].get("queued_song_id") if kind == "votes_updated" else None
                if seq == last + 1:
                    last = seq
                    stamps.append((sock_id, index, seq, entry, now))
                elif seq <= last:
                    bad["duplicates" if seq == last else "out_of_order"] += 1
                else:
                    bad["gaps"] += 1
                    last = seq
                    stamps.append((sock_id, index, seq, entry, now))
        except Exception:
            if not state["stop"]:
                bad["closed"] += 1

    tasks = [asyncio.create_task(hold(k, i, s, t)) for k, i, s, t in sockets]
    while len(opened) < len(sockets):
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        if failed:
            pipe.send({"error": repr(failed[0].exception())})
            return
        await asyncio.sleep(0.05)
    pipe.send({"ready": len(opened), "snapshot_bytes": snapshot_bytes[:1]})
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    state["stop"] = True
    pipe.send({"stamps": stamps, "bad": bad, "sizes": sizes})
    for ws in opened:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    for task in tasks:
        task.cancel()


CONNECT_WITHIN = 300.0  # seconds for a client process to open all its sockets


def start_client(
    ctx: Any,
    url: str,
    sockets: list[tuple[int, int, str, str]],
    concurrency: int,
    per_address: int,
) -> tuple[Pipe, Any]:
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=client_main, args=(child, url, sockets, concurrency, per_address))
    proc.start()
    # Only the child holds its end now: when the child dies, the parent's recv sees EOF
    # instead of waiting for ever.
    child.close()
    return parent, proc


async def receive(pipe: Pipe, proc: Any, within: float) -> Any:
    """The client's next message; an error when it dies or says nothing within `within` s."""
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(pipe.poll, 0.2):
        if not proc.is_alive() and not pipe.poll():
            raise RuntimeError(f"client process exited with {proc.exitcode} before answering")
        if time.monotonic() > deadline:
            raise RuntimeError(f"client process said nothing within {within:g} s")
    try:
        return pipe.recv()
    except EOFError as exc:
        raise RuntimeError(f"client process exited with {proc.exitcode}") from exc


# --- writer -------------------------------------------------------------------------------------


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client: the load generator shares the machine with the
    server, so it must cost little (httpx costs about a millisecond of CPU per request)."""

    def __init__(self, base_url: str, size: int) -> None:
        host_port = base_url.removeprefix("http://")
        self.host, port = host_port.split(":")
        self.port = int(port)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.gate = asyncio.Semaphore(size)

    async def post(self, path: str, body: bytes, token: str) -> tuple[int, bytes]:
        async with self.gate:
            reused = bool(self.idle)
            try:
                return await self._post(path, body, token, fresh=False)
            except asyncio.IncompleteReadError as exc:
                # the server closed an idle keep-alive connection before reading the request:
                # nothing happened, send it again on a new connection
                if not reused or exc.partial:
                    raise
            return await self._post(path, body, token, fresh=True)

    async def _post(self, path: str, body: bytes, token: str, *, fresh: bool) -> tuple[int, bytes]:
        if self.idle and not fresh:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            payload = await reader.readexactly(length) if length else b""
        except BaseException:
            writer.close()
            raise
        self.idle.append((reader, writer))
        return status, payload

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


CAST_VOTE_SQL = "select outcome, seq from app.cast_vote($1, $2)"

# (session index, entry) -> (start, end) of each vote on it, in commit order
VoteTimes = dict[tuple[int, str], list[tuple[float, float]]]


async def write_votes(
    args: argparse.Namespace, db: Any, hub: Any, plan: list[BenchSession], http_url: str
) -> tuple[VoteTimes, int]:
    """Votes at `args.rate`/s for `args.duration` s. Returns their times and the failure count."""
    loop = asyncio.get_running_loop()
    times: VoteTimes = {}
    locks: dict[tuple[int, str], asyncio.Lock] = {}
    last: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    gate = asyncio.Semaphore(args.writers)
    failures = 0
    counter = 0
    http = RawHttp(http_url, args.writers) if args.write_path == "vote-api" else None

    async def vote(n: int) -> None:
        nonlocal failures
        s_index = n % len(plan)
        bs = plan[s_index]
        round_ = n // len(plan)
        member = bs.members[round_ % len(bs.members)]
        entry = bs.entries[(round_ * 7 + round_ // len(bs.members)) % len(bs.entries)]
        key = (s_index, str(entry))
        lock = locks.setdefault(key, asyncio.Lock())
        try:
            async with gate, lock:
                value = -last.get((member.id, entry), -1)  # +1 first, then flip
                start = time.monotonic()
                if http is not None:
                    status, body = await http.post(
                        f"/api/v1/songs/{entry}/vote",
                        b'{"vote_value":%d}' % value,
                        member.token,
                    )
                    end = time.monotonic()
                    if status != 200:
                        raise RuntimeError(f"{status} {body[:200]!r}")
                else:
                    async with db.user_tx(member.id, member.claims) as conn:
                        row = await conn.fetchrow(CAST_VOTE_SQL, entry, value)
                    start = end = time.monotonic()  # right after COMMIT
                    if row["outcome"] != "ok" and row["seq"] is None:
                        raise RuntimeError(f"cast_vote: {row['outcome']}")
                    hub.publish(bs.id, int(row["seq"]))
                last[(member.id, entry)] = value
                times.setdefault(key, []).append((start, end))
        except Exception as exc:
            failures += 1
            if failures <= 3:
                print(f"  write failed: {exc!r}", file=sys.stderr)

    pending: set[asyncio.Task[None]] = set()
    start = loop.time()
    end = start + args.duration
    while (now := loop.time()) < end:
        due = int((now - start) * args.rate)
        while counter < due:
            task = asyncio.create_task(vote(counter))
            pending.add(task)
            task.add_done_callback(pending.discard)
            counter += 1
        await asyncio.sleep(0.002)
    if pending:
        await asyncio.wait(pending, timeout=60)
    if http is not None:
        http.close()
    if failures:
        print(f"  {failures} writes failed", file=sys.stderr)
    return times, failures


def match_latencies(
    times: VoteTimes, stamps: list[tuple[int, int, int, str | None, float]]
) -> tuple[list[float], list[float]]:
    """(upper, lower) latency in ms per delivered vote event: the k-th `votes_updated` of an
    entry on a socket belongs to the k-th vote on that entry."""
    upper: list[float] = []
    lower: list[float] = []
    seen: dict[tuple[int, str], int] = {}
    for sock_id, s_index, _seq, entry, arrived in stamps:  # per socket, in arrival order
        if entry is None:
            continue
        k = seen.get((sock_id, entry), 0)
        seen[(sock_id, entry)] = k + 1
        votes = times.get((s_index, entry))
        if votes is None or k >= len(votes):
            continue
        start, end = votes[k]
        upper.append((arrived - start) * 1000.0)
        lower.append((arrived - end) * 1000.0)
    upper.sort()
    lower.sort()
    return upper, lower


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="QueueIT realtime benchmark (DESIGN §7)")
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--members", type=int, default=25)
    p.add_argument("--rate", type=float, default=100.0, help="votes (changes) per second")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of writing")
    p.add_argument("--songs", type=int, default=50, help="queued songs per session")
    p.add_argument("--full", action="store_true", help="100 x 50 members, 200/s for 60 s")
    p.add_argument("--client-procs", type=int, default=1)
    p.add_argument("--connect-concurrency", type=int, default=64)
    p.add_argument("--writers", type=int, default=16, help="concurrent write transactions")
    p.add_argument("--server", choices=["queueit", "service", "rt"], default="queueit")
    p.add_argument(
        "--write-path",
        choices=["vote-api", "sql-notify"],
        default=None,
        help="default: vote-api, or sql-notify with --server rt",
    )
    p.add_argument(
        "--shortcut",
        action="store_true",
        help="--server rt: mount RealtimeShortcut (the real app always has it)",
    )
    p.add_argument(
        "--gc-threshold",
        help="server: gc.set_threshold(...) e.g. 50000,50,100 (default: Python's)",
    )
    p.add_argument("--dsn", help="use this (migrated) database instead of an embedded one")
    p.add_argument("--out", type=Path, default=None, help="result file (default bench/results/)")
    args = p.parse_args(argv)
    if args.write_path is None:
        args.write_path = "sql-notify" if args.server == "rt" else "vote-api"
    if args.server == "rt" and args.write_path == "vote-api":
        p.error("--server rt has no vote endpoint: use --write-path sql-notify")
    if args.server == "queueit" and (args.shortcut or args.gc_threshold):
        p.error("--shortcut and --gc-threshold need --server service")
    if args.full:
        args.sessions, args.members, args.rate, args.duration = 100, 50, 200.0, 60.0
        args.client_procs = max(args.client_procs, 2)
        args.writers = max(args.writers, 64)
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from queueit.auth.verifier import TokenVerifier
    from queueit.config import Settings
    from queueit.db import Database, apply, start_embedded
    from queueit.realtime import RealtimeHub

    work = Path(tempfile.mkdtemp(prefix="queueit-bench-"))
    settings = Settings(_env_file=None, data_dir=work)  # type: ignore[call-arg]
    clients: list[tuple[Pipe, Any]] = []  # (pipe, process): the warm-up client first
    server = None
    try:
        if args.dsn:
            dsn = args.dsn
        else:
            print("starting the embedded PostgreSQL ...")
            dsn = await asyncio.to_thread(start_embedded, work / "db")
        await apply(dsn)
        n_sockets = args.sessions * args.members
        print(
            f"creating {args.sessions} sessions x {args.members} members,"
            f" {args.songs} songs each ..."
        )
        plan = await setup_data(dsn, settings, args.sessions, args.members, args.songs)

        port = free_port()
        server = start_server(args.server, dsn, work, port, args.shortcut, args.gc_threshold)
        await wait_for_server(port, server)
        url = f"ws://127.0.0.1:{port}"

        # warm-up socket (first-connection imports and caches), then the idle baseline
        warm = multiprocessing.get_context("spawn")
        per_address = sockets_per_address(settings)
        first = plan[0].members[0]
        parent, proc = start_client(
            warm, url, [(0, 0, str(plan[0].id), first.token)], 1, per_address
        )
        clients.append((parent, proc))
        reply = await receive(parent, proc, CONNECT_WITHIN)
        if "error" in reply:
            raise RuntimeError(f"warm-up client: {reply['error']}")
        await asyncio.sleep(1.0)
        rss_before = vm_rss_kib(server.pid)

        print(f"connecting {n_sockets} sockets from {args.client_procs} client process(es) ...")
        sockets = [
            (k + 1, i, s_id, token)
            for k, (i, s_id, token) in enumerate(
                (i, str(bs.id), m.token)
                for i, bs in enumerate(plan)
                for m in (bs.members[1:] if i == 0 else bs.members)
            )
        ]
        shares = [sockets[k :: args.client_procs] for k in range(args.client_procs)]
        for share in shares:
            clients.append(start_client(warm, url, share, args.connect_concurrency, per_address))
        t0 = time.monotonic()
        snapshot_bytes = reply["snapshot_bytes"][0]
        for a, p in clients[1:]:
            got = await receive(a, p, CONNECT_WITHIN)
            if "error" in got:
                raise RuntimeError(f"client process: {got['error']}")
        connect_seconds = time.monotonic() - t0
        await asyncio.sleep(2.0)
        rss_after = vm_rss_kib(server.pid)
        kib_per_socket = (rss_after - rss_before) / max(1, n_sockets - 1)
        print(f"  connected in {connect_seconds:.1f} s; server RSS {rss_before} -> {rss_after} KiB")

        db = Database(dsn, min_size=args.writers, max_size=args.writers + 4)
        await db.start()
        hub = RealtimeHub(settings, db, TokenVerifier.from_settings(settings), prune_interval=None)
        await hub.start()
        print(f"writing {args.rate:g} votes/s for {args.duration:g} s ...")
        groups = {
            "server": [server.pid],
            "postgres": postgres_pids(),
            "clients": [p.pid for _, p in clients if p.pid is not None],
            "writer": [os.getpid()],
        }
        cpu_start = cpu_snapshot(groups)
        busy_start = machine_busy()
        load_before = os.getloadavg()[0]
        t_start = time.monotonic()
        times, failures = await write_votes(args, db, hub, plan, f"http://127.0.0.1:{port}")
        written_seconds = time.monotonic() - t_start
        cpu_end = cpu_snapshot(groups)
        busy_end = machine_busy()
        cpu_share = {name: (cpu_end[name] - cpu_start[name]) / written_seconds for name in groups}
        ncpu = os.cpu_count() or 1
        machine = (busy_end[0] - busy_start[0]) / max(1.0, busy_end[1] - busy_start[1]) * ncpu
        cpu_share["other processes"] = max(0.0, machine - sum(cpu_share.values()))
        cpu_share["machine"] = machine
        print("  CPU (cores busy): " + ", ".join(f"{k} {v:.2f}" for k, v in cpu_share.items()))
        await asyncio.sleep(2.0)  # let the last deliveries land
        await hub.stop()
        await db.close()

        stamps: list[tuple[int, int, int, str | None, float]] = []
        bad = {"gaps": 0, "out_of_order": 0, "duplicates": 0, "closed": 0}
        sizes: dict[str, int] = {}
        for a, _ in clients:
            a.send("stop")
        for a, p in clients:
            got = await receive(a, p, 120.0)
            stamps.extend(got["stamps"])
            for key in bad:
                bad[key] += got["bad"].get(key, 0)
            sizes.update(got["sizes"])
        for _, p in clients:
            p.join(10)

        latencies, lower = match_latencies(times, stamps)
        commits = sum(len(v) for v in times.values())
        expected = commits * args.members
        delivered = len(latencies)
        refetch = await refetch_bytes(port, plan[0].members[0].token, snapshot_bytes)
        vote_frame = sizes.get("votes_updated", 0)
        vote_wire = vote_frame + (2 if vote_frame < 126 else 4)
        return {
            "config": {
                "sessions": args.sessions,
                "members": args.members,
                "sockets": n_sockets,
                "rate": args.rate,
                "duration_s": args.duration,
                "songs": args.songs,
                "server": args.server
                + (" + RealtimeShortcut" if args.shortcut else "")
                + (f" + gc.set_threshold({args.gc_threshold})" if args.gc_threshold else ""),
                "write_path": args.write_path,
                "client_procs": args.client_procs,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            "commits": commits,
            "failed_writes": failures,
            "achieved_rate": commits / written_seconds,
            "expected_deliveries": expected,
            "delivered": delivered,
            "lost": expected - delivered,
            "bad": bad,
            "p50_ms": percentile(latencies, 0.50),
            "p95_ms": percentile(latencies, 0.95),
            "p99_ms": percentile(latencies, 0.99),
            "max_ms": latencies[-1] if latencies else float("nan"),
            "p50_lower_ms": percentile(lower, 0.50),
            "p99_lower_ms": percentile(lower, 0.99),
            "mean_ms": statistics.fmean(latencies) if latencies else float("nan"),
            "delivered_per_s": delivered / written_seconds,
            "rss_before_kib": rss_before,
            "rss_after_kib": rss_after,
            "kib_per_socket": kib_per_socket,
            "connect_seconds": connect_seconds,
            "cpu_cores": cpu_share,
            "load_average_before": load_before,
            "vote_frame_bytes": vote_frame,
            "vote_wire_bytes": vote_wire,
            "refetch_bytes": refetch[0],
            "refetch_source": refetch[1],
        }
    finally:
        for _, p in clients:
            if p.is_alive():
                p.terminate()
        if server is not None:
            server.terminate()
            try:
                server.wait(15)
            except Exception:
                server.kill()
        if not args.dsn:
            with contextlib.suppress(Exception):
                from pgserver.postgres_server import get_server

                get_server(work / "db" / "postgres").cleanup()
        shutil.rmtree(work, ignore_errors=True)


async def refetch_bytes(port: int, token: str, snapshot_data_bytes: int) -> tuple[int, str]:
    """Bytes of refetching the session: GET /sessions/current when served, else an estimate."""
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        with contextlib.suppress(httpx.HTTPError):
            response = await http.get(
                "/api/v1/sessions/current", headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code == 200:
                head = sum(len(k) + len(v) + 4 for k, v in response.headers.items()) + 17
                return len(response.content) + head, "GET /api/v1/sessions/current"
    return (
        snapshot_data_bytes + HTTP_HEADER_BYTES,
        "CurrentSessionResponse body of the snapshot + ~160 B of headers",
    )


def render(result: dict[str, Any]) -> str:
    c = result["config"]
    ratio = result["refetch_bytes"] / max(1, result["vote_wire_bytes"])
    lost_total = result["lost"] + sum(
        result["bad"][k] for k in ("gaps", "out_of_order", "duplicates")
    )

    # vote-api: timed from sending the request (the commit is inside it); sql-notify: from COMMIT
    what = "request" if c["write_path"] == "vote-api" else "commit"

    def row(figure: str, value: str, target: str, ok: bool | None) -> str:
        mark = "" if ok is None else ("yes" if ok else "NO")
        return f"| {figure} | {value} | {target} | {mark} |"

    lines = [
        f"# Realtime benchmark — {datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "",
        f"{c['sessions']} sessions x {c['members']} members = {c['sockets']} sockets, "
        f"{c['rate']:g} votes/s for {c['duration_s']:g} s, {c['songs']} songs per queue; "
        f"server `{c['server']}`, writes via `{c['write_path']}`, {c['client_procs']} client "
        f"process(es), {c['cpus']} CPUs, Python {c['python']}. Server, PostgreSQL and load "
        "generator on this one machine.",
        "",
        "| figure | value | DESIGN §7 target | met |",
        "|---|---|---|---|",
        row(f"{what}→delivery p50", f"{result['p50_ms']:.1f} ms", "", None),
        row(f"{what}→delivery p95", f"{result['p95_ms']:.1f} ms", "", None),
        row(
            f"{what}→delivery p99",
            f"{result['p99_ms']:.1f} ms",
            f"≤ {TARGET_P99_MS:g} ms (at 100x50, 200/s)",
            result["p99_ms"] <= TARGET_P99_MS,
        ),
        row(f"{what}→delivery max", f"{result['max_ms']:.1f} ms", "", None),
        *(
            [
                row(
                    "response→delivery p50 / p99 (lower bound)",
                    f"{result['p50_lower_ms']:.1f} / {result['p99_lower_ms']:.1f} ms",
                    "",
                    None,
                )
            ]
            if c["write_path"] == "vote-api"
            else []
        ),
        row(
            "changes committed",
            f"{result['commits']} ({result['achieved_rate']:.0f}/s, "
            f"{result['failed_writes']} failed)",
            f"{c['rate']:g}/s",
            result["achieved_rate"] >= 0.95 * c["rate"],
        ),
        row("delivered events/s", f"{result['delivered_per_s']:.0f}", "", None),
        row(
            "lost / gaps / out of order / duplicates",
            f"{result['lost']} / {result['bad']['gaps']} / {result['bad']['out_of_order']} / "
            f"{result['bad']['duplicates']}",
            "0",
            lost_total == 0,
        ),
        row(
            "server memory per idle socket",
            f"{result['kib_per_socket']:.1f} KiB",
            f"≤ {TARGET_KIB_PER_SOCKET:g} KiB",
            result["kib_per_socket"] <= TARGET_KIB_PER_SOCKET,
        ),
        row(
            "vote delta on the wire",
            f"{result['vote_wire_bytes']} B (frame {result['vote_frame_bytes']} B)",
            "",
            None,
        ),
        row("refetching a 50-song queue", f"{result['refetch_bytes']} B", "", None),
        row("refetch / delta", f"{ratio:.0f}x", f"≥ {TARGET_RATIO:g}x", ratio >= TARGET_RATIO),
        "",
        f"Server RSS {result['rss_before_kib']} KiB → {result['rss_after_kib']} KiB after "
        f"connecting the sockets ({result['connect_seconds']:.1f} s). Refetch bytes: "
        f"{result['refetch_source']}. Sockets closed during the run: {result['bad']['closed']}.",
        "CPU while writing (cores busy): "
        + ", ".join(f"{k} {v:.2f}" for k, v in result["cpu_cores"].items())
        + f" (of {c['cpus']}); load average before the run {result['load_average_before']:.2f}."
        + " Kernel time for loopback traffic is partly outside the per-process figures;"
        + " 'other processes' is what the rest of the machine used meanwhile.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limit = raise_fd_limit()
    need = args.sessions * args.members * 2 + 200
    if limit < need:
        print(f"fd limit {limit} < {need}: raise it (ulimit -n) for this configuration")
        return 2
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    try:
        result = asyncio.run(run(args))
    except RuntimeError as exc:  # a client, the server or the writer failed: say so, exit 1
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    table = render(result)
    print()
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    c = result["config"]
    out = args.out or RESULTS / f"realtime-{c['sessions']}x{c['members']}-{c['rate']:g}ps.md"
    out.write_text(table + "\n```json\n" + json.dumps(result, indent=2) + "\n```\n")
    print(f"written to {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
