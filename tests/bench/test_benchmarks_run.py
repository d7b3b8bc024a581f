"""Benchmarks cannot rot: each one runs here at a tiny size, end to end (its own embedded
PostgreSQL, a real server process, real sockets), and must exit 0 and print its figures.

No timing is asserted: the figures are the benchmark's business. What is asserted is that it
runs, that every event reached every socket, and that a failing client fails the run at once
instead of hanging it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# A hang is a failure; this bound only keeps a broken benchmark from stalling the suite.
HANG = 240


def run_bench(
    script: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=HANG,
        check=False,
    )


def result_json(out: Path) -> dict[str, object]:
    text = out.read_text()
    return json.loads(text.split("```json\n", 1)[1].rsplit("```", 1)[0])


@pytest.mark.slow
def test_realtime_bench_runs_past_one_address_cap(tmp_path: Path) -> None:
    """24 sockets against a server that lets one address hold 8 (4 still authenticating):
    the benchmark spreads its clients over loopback addresses and keeps the caps in force."""
    out = tmp_path / "realtime.md"
    done = run_bench(
        "realtime.py",
        *("--sessions", "2", "--members", "12", "--songs", "5"),
        *("--rate", "20", "--duration", "2", "--out", str(out)),
        env={"WS_MAX_PER_ADDRESS": "8", "WS_MAX_UNAUTHENTICATED_PER_ADDRESS": "4"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| request→delivery p99 |" in done.stdout
    assert "| server memory per idle socket |" in done.stdout
    result = result_json(out)
    assert result["config"]["sockets"] == 24  # type: ignore[index]
    assert result["commits"] > 0
    assert result["failed_writes"] == 0
    assert result["lost"] == 0
    assert result["bad"] == {"gaps": 0, "out_of_order": 0, "duplicates": 0, "closed": 0}


@pytest.mark.slow
def test_realtime_bench_fails_at_once_when_its_clients_fail(tmp_path: Path) -> None:
    """Every socket refused (4029: no sockets per user): exit non-zero, saying why."""
    done = run_bench(
        "realtime.py",
        *("--sessions", "1", "--members", "3", "--songs", "2"),
        *("--rate", "5", "--duration", "1", "--out", str(tmp_path / "never.md")),
        env={"WS_MAX_PER_USER": "0"},
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "benchmark failed" in done.stderr
    assert "4029" in done.stderr
    assert not (tmp_path / "never.md").exists()


@pytest.mark.slow
def test_votes_bench_runs(tmp_path: Path) -> None:
    out = tmp_path / "votes.md"
    done = run_bench(
        "votes.py",
        *("--duration", "1", "--warmup", "0.5", "--clients", "4", "--users", "8"),
        *("--sessions", "2", "--songs", "3", "--rate", "20", "--out", str(out)),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| HTTP errors | 0 |" in done.stdout
    assert "| direct SQL errors | 0 |" in done.stdout
    assert out.read_text().startswith("#")


@pytest.mark.slow
def test_join_guessing_bench_runs(tmp_path: Path) -> None:
    """Two scenarios of one second against a real `queueit run`: every answer is a 404 or a
    429, and the table has a row per scenario."""
    out = tmp_path / "join_guessing.md"
    done = run_bench(
        "join_guessing.py",
        *("--duration", "1", "--accounts", "3", "--addresses", "2", "--out", str(out)),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| wrong codes evaluated/min |" in done.stdout
    rows = result_json(out)["rows"]
    assert [(r["accounts"], r["addresses"]) for r in rows] == [(3, 1), (3, 2)]  # type: ignore[index]
    assert all(r["evaluated_per_minute"] > 0 and r["other"] == 0 for r in rows)  # type: ignore[index]


def ran(tmp_path: Path, script: str, *args: str, env: dict[str, str], shows: str) -> Any:
    """Run a benchmark with its results in tmp_path: it exits 0, prints `shows`, and its
    results (the JSON block of its report) are returned."""
    out = tmp_path / script.replace(".py", ".md")
    done = run_bench(script, *args, "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert shows in done.stdout
    return result_json(out)


@pytest.mark.slow
def test_shared_limits_bench_runs(tmp_path: Path, redis_url: str) -> None:
    """Small limits, both stores: with memory:// two instances let twice each limit through,
    with redis:// once (the bench starts its own redis-server; the fixture only says one
    exists)."""
    small = {
        "RATE_LIMIT_WRITES_PER_MINUTE": "6",
        "RATE_LIMIT_JOINS_PER_MINUTE": "4",
        "RATE_LIMIT_SEARCHES_PER_MINUTE": "5",
        "RATE_LIMIT_WRONG_CODES_PER_ADDRESS_PER_MINUTE": "3",
        "WS_MAX_PER_USER": "2",
    }
    result = ran(tmp_path, "shared_limits.py", "--hits", "50", env=small, shows="| `RateLimit.hit`")
    for name, row in result["memory://"]["limits"].items():
        assert row["through"] == 2 * row["limit"], name
        assert result["redis://"]["limits"][name]["through"] == row["limit"], name


@pytest.mark.slow
def test_floods_bench_runs(tmp_path: Path) -> None:
    """One second per flood against a real `queueit run` with small budgets: each flood is
    answered, and past its budget refused (429, or 4029 for sockets)."""
    small = {
        "RATE_LIMIT_READS_PER_MINUTE": "12",
        "RATE_LIMIT_FAILED_AUTH_PER_ADDRESS_PER_MINUTE": "5",
        "RATE_LIMIT_TOKENLESS_SOCKETS_PER_ADDRESS_PER_MINUTE": "5",
    }
    result = ran(tmp_path, "floods.py", "--duration", "1", env=small, shows="| server CPU ms")
    assert set(result["reads of 500 events"]["per_second"]) == {"200", "429"}
    assert set(result["failed authentications"]["per_second"]) == {"401", "429"}
    assert "closed 4029" in result["token-less sockets"]["per_second"]
