"""Join-code guessing benchmark (issue 25): how many wrong join codes an attacker gets evaluated
per minute, and how long until one of the live sessions' codes falls.

    .venv/bin/python bench/join_guessing.py                 # 20 s per scenario
    .venv/bin/python bench/join_guessing.py --duration 60 --accounts 1,50,1000 --addresses 100

What runs where: `queueit run` in a subprocess on its own embedded PostgreSQL (a temporary
DATA_DIR), with the rate limits as configured (environment, else the defaults). The attacker
(this process) signs up `--accounts` development accounts and sends `POST /api/v1/sessions/join`
with random wrong codes from every account at once, from one loopback address (127.0.0.x) or
spread over `--addresses` of them, for `--duration` seconds per scenario. Each scenario uses
addresses and accounts of its own.

Figures per scenario: codes evaluated (404) and refused (429) per minute, and the expected time
until a guess hits any of `--sessions` live sessions, for generated codes (8 of 32 characters)
and for the shortest code a host may choose (4 of 36): at the rate measured, and at the rate an
attacker keeps up past the first day, which RATE_LIMIT_WRONG_CODES_PER_ADDRESS_PER_DAY bounds per
address (computed from the setting: a run of minutes cannot measure a day). Printed, and written
to bench/results/join_guessing.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from benchkit import free_port, publish, start_service, stop, wait_for

from queueit.auth.dev import mint_dev_token
from queueit.config import Settings
from queueit.db.codes import ALPHABET, GENERATED_LENGTH

CHOSEN_SPACE = 36**4  # the shortest code a host may choose: 4 of [A-Z0-9]
GENERATED_SPACE = len(ALPHABET) ** GENERATED_LENGTH


def loopback(index: int) -> str:
    """The attacker's address number `index`: 127.0.1.2, 127.0.1.3, ... (all loopback)."""
    return f"127.0.{1 + index // 250}.{2 + index % 250}"


def wrong_code(rng: random.Random) -> str:
    # one character longer than a generated code: never a live session's, always a wrong guess
    return "".join(rng.choice(ALPHABET) for _ in range(GENERATED_LENGTH + 1))


async def scenario(
    url: str,
    settings: Settings,
    name: str,
    accounts: int,
    addresses: int,
    first_address: int,
    duration: float,
) -> dict[str, Any]:
    tokens = [mint_dev_token(f"g{first_address}x{n}", settings) for n in range(accounts)]
    clients = [
        httpx.AsyncClient(
            base_url=url,
            timeout=10,
            transport=httpx.AsyncHTTPTransport(
                local_address=loopback(first_address + n % addresses)
            ),
        )
        for n in range(accounts)
    ]
    counts = {"evaluated": 0, "refused": 0, "other": 0}
    end = time.monotonic() + duration
    rng = random.Random(first_address)

    async def guess(client: httpx.AsyncClient, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        while time.monotonic() < end:
            answer = await client.post(
                "/api/v1/sessions/join", json={"join_code": wrong_code(rng)}, headers=headers
            )
            if answer.status_code == 404:
                counts["evaluated"] += 1
            elif answer.status_code == 429:
                counts["refused"] += 1
                # a patient attacker waits as told, up to the end of the run
                wait = float(answer.headers.get("retry-after", "1"))
                await asyncio.sleep(min(wait, max(0.0, end - time.monotonic())))
            else:
                counts["other"] += 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(guess(c, t) for c, t in zip(clients, tokens, strict=True)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    minutes = (time.monotonic() - started) / 60
    per_minute = counts["evaluated"] / minutes
    return {
        "scenario": name,
        "accounts": accounts,
        "addresses": addresses,
        "evaluated_per_minute": round(per_minute, 1),
        "refused_per_minute": round(counts["refused"] / minutes, 1),
        "other": counts["other"],
    }


def time_to_hit(per_minute: float, sessions: int, space: int) -> str:
    if per_minute <= 0:
        return "never"
    minutes = space / (sessions * per_minute)
    for unit, size in (("years", 525_960), ("days", 1440), ("hours", 60)):
        if minutes >= size:
            return f"{minutes / size:.1f} {unit}"
    return f"{minutes:.1f} minutes"


def render(args: argparse.Namespace, rows: list[dict[str, Any]]) -> str:
    load1, _, _ = os.getloadavg()
    lines = [
        "# Join-code guessing",
        "",
        f"{platform.node()}, {os.cpu_count()} cores, load {load1:.2f} at the end; "
        f"{args.duration:g} s per scenario; {args.sessions} live sessions assumed.",
        "",
        f"Past the first day each address keeps {args.per_day} wrong codes a day.",
        "",
        "| accounts | addresses | wrong codes evaluated/min | refused/min | time to hit a "
        "generated code | after the first day | a 4-character chosen code, after the first "
        "day |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        rate = row["evaluated_per_minute"]
        sustained = min(rate, row["addresses"] * args.per_day / 1440)
        lines.append(
            f"| {row['accounts']} | {row['addresses']} | {rate} | {row['refused_per_minute']} "
            f"| {time_to_hit(rate, args.sessions, GENERATED_SPACE)} "
            f"| {time_to_hit(sustained, args.sessions, GENERATED_SPACE)} "
            f"| {time_to_hit(sustained, args.sessions, CHOSEN_SPACE)} |"
        )
    lines += ["", "```json", json.dumps({"rows": rows, "sessions": args.sessions}), "```", ""]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="queueit-guess-"))
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    args.per_day = settings.rate_limit_wrong_codes_per_address_per_day
    mint_dev_token("bench-warmup", settings)  # the signing key, before the server reads it
    port = free_port()
    proc = start_service(data_dir, port)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        await wait_for(url, proc)
        first = 0
        plans = [(a, 1) for a in args.accounts] + [(max(args.accounts), args.addresses)]
        for accounts, addresses in plans:
            name = f"{accounts} accounts from {addresses} address{'es' if addresses > 1 else ''}"
            rows.append(
                await scenario(url, settings, name, accounts, addresses, first, args.duration)
            )
            first += addresses
    finally:
        stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)
    if any(row["other"] for row in rows):
        print(f"benchmark failed: unexpected answers {rows}", file=sys.stderr)
        return 1
    publish(render(args, rows), args.out, "join_guessing.md")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    parser.add_argument(
        "--accounts",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 50, 200],
        help="accounts from one address, per scenario (comma list)",
    )
    parser.add_argument("--addresses", type=int, default=100, help="addresses, last scenario")
    parser.add_argument("--sessions", type=int, default=2000, help="live sessions assumed")
    parser.add_argument("--out", help="where to write the table (default bench/results/)")
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
