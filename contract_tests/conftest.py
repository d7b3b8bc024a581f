"""The contract job's fixtures: the real service, live, on a real PostgreSQL.

    live        session   the service as `queueit run` serves it (ct_serve.py, a subprocess on
                          127.0.0.1, its own database copied from the migrated template of
                          tests/conftest.py, high rate limits); `live.url`, `live.token(name)`
    rest_tour   session   the scripted party over every REST operation (ct_tour), run once
    ws_party    session   the scripted multi-user party over real WebSockets (ct_realtime), once

When the session ends the server is stopped and its JSON log (contract_tests/build/server.log)
must hold no error line: an unhandled exception fails the job even if the client saw a tidy
problem or close code.

The embedded PostgreSQL fixtures (`pg_server`, `pg_dsn`, `migrated_template`) are the ones of
tests/conftest.py, loaded from there rather than copied.

Seed: QUEUEIT_FUZZ_SEED=N (or `pytest --hypothesis-seed=N`) replays a run; the seed in use is
printed in the header and in the summary at the end, with the cases sent per operation.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ct_seed
import ct_stats
import httpx
import pytest
import pytest_asyncio

from queueit.auth.dev import dev_user_id, mint_dev_token
from queueit.config import Settings
from queueit.db import SERVICE_ROLE, as_login_role
from tools.generous_limits import generous_limits_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD = HERE / "build"


def _load_shared_fixtures() -> Any:
    spec = importlib.util.spec_from_file_location(
        "queueit_tests_conftest", ROOT / "tests" / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_shared = _load_shared_fixtures()
pg_server = _shared.pg_server
pg_dsn = _shared.pg_dsn
migrated_template = _shared.migrated_template


# --- seed and summary --------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    forced = config.getoption("hypothesis_seed", default=None)
    ct_seed.configure(forced)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [ct_seed.describe()]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = ct_stats.STATS.summary_lines()
    if not lines:
        return
    terminalreporter.section("QueueIT contract job")
    for line in lines:
        terminalreporter.write_line(line)
    terminalreporter.write_line(ct_seed.describe())
    BUILD.mkdir(exist_ok=True)
    ct_stats.STATS.write_json(BUILD / "contract-summary.json")


# --- the live service --------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    settings: Settings
    log_path: Path
    process: subprocess.Popen[bytes]
    names: set[str] = field(default_factory=set)

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    def new_name(self, role: str) -> str:
        """A fresh development user name (a user is in at most one session)."""
        name = f"ct-{role}-{secrets.token_hex(5)}"[:32]
        self.names.add(name)
        return name

    def token(self, name: str) -> str:
        return mint_dev_token(name, self.settings)

    @staticmethod
    def user_id(name: str) -> str:
        return str(dev_user_id(name))

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def assert_running(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(
                f"the server exited with {self.process.returncode}:\n{self.log_tail()}"
            )


def _server_env(dsn: str, data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SUPABASE_", "SPOTIFY_", "DATABASE_", "RATE_LIMIT_", "QUEUEIT_"))
        and k not in {"PROFILE", "HOST", "PORT", "DATA_DIR", "CORS_ORIGINS", "LOG_LEVEL"}
    }
    env.update(
        PROFILE="development",
        DATABASE_URL=as_login_role(dsn, SERVICE_ROLE),  # the service's own login role
        DATA_DIR=str(data_dir),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    # High limits: 429s must not mask what the fuzzer sends (429 stays a documented answer).
    env.update(generous_limits_env())
    return env


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def live_database(pg_dsn: str, migrated_template: str, pg_server: Any) -> AsyncIterator[str]:
    """A database of the job's own (fuzzed join codes must not collide with other tests)."""
    name = f"queueit_contract_{secrets.token_hex(4)}"
    await _shared.create_database(pg_dsn, name, template=migrated_template)
    yield str(pg_server.get_uri(name))
    await _shared.drop_database(pg_dsn, name)


@pytest.fixture(scope="session")
def live(live_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("contract-data")
    BUILD.mkdir(exist_ok=True)
    log_path = BUILD / "server.log"
    port_file = data_dir / "port"
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    mint_dev_token("ct-warmup", settings)  # creates the signing key before the server reads it
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "ct_serve.py"), str(port_file)],
            cwd=ROOT,
            env=_server_env(live_database, data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer("", settings, log_path, process)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            server.assert_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not start in 60 s:\n{server.log_tail()}")
            time.sleep(0.05)
        server.url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        with server.http() as client:
            ready = client.get("/healthz")
        assert ready.status_code == 200, f"/healthz answered {ready.status_code}: {ready.text}"
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
    errors = _logged_errors(log_path)
    assert not errors, "the server logged errors during the run:\n" + "\n".join(errors[:20])


def _logged_errors(log_path: Path) -> list[str]:
    """Error lines of the server's JSON log (an unhandled exception is one, even when the client
    saw a tidy problem or a close code)."""
    found = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if "Traceback" in line or "ERROR" in line:
                found.append(line[:500])
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "critical"):
            found.append(line[:2000])
    return found


@pytest.fixture(scope="session")
def rest_tour(live: LiveServer) -> Any:
    import ct_tour

    return ct_tour.run_tour(live)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ws_party(live: LiveServer) -> Any:
    import ct_realtime

    return await ct_realtime.run_party(live)
