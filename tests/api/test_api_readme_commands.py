"""The README's commands run as written: the contract job's replay line and `pytest` however it
is started, and the schemathesis CLI line against a live server. Each command is read from the
README itself, so a README edit that breaks one fails here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from apikit import LiveServer

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def readme_command(starts: str) -> str:
    """The README's command line that starts with `starts` (continuation lines joined)."""
    joined = README.replace("\\\n", " ")
    found = [line.strip() for line in joined.splitlines() if line.strip().startswith(starts)]
    assert len(found) == 1, f"the README has {len(found)} lines starting {starts!r}"
    return re.sub(r"\s+", " ", found[0])


def bash(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_plain_pytest_collects_the_contract_job() -> None:
    done = bash(".venv/bin/pytest --collect-only -q contract_tests")
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(r"^\d+ tests collected", done.stdout, re.M), done.stdout[-1000:]


def test_replay_command_selects_the_guest_add_song_cases() -> None:
    command = readme_command("QUEUEIT_FUZZ_SEED=N .venv/bin/pytest")
    done = bash(command.replace("=N ", "=7 ").replace("pytest ", "pytest --collect-only -q ", 1))
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(r"^1/\d+ tests collected", done.stdout, re.M), done.stdout[-1000:]


def test_schemathesis_cli_command_runs_against_a_live_server(api: LiveServer) -> None:
    command = readme_command(".venv/bin/st ")
    assert "http://127.0.0.1:8000" in command
    # the README's line, pointed at this server (its token from this server's DATA_DIR), and
    # cut to the examples phase so that it takes seconds
    command = command.replace("http://127.0.0.1:8000", api.url) + " --phases examples"
    done = bash(command, DATA_DIR=str(api.settings.data_dir))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"Tested: (\d+)", done.stdout), done.stdout[-2000:]
    assert re.search(r"\d+ generated, \d+ passed", done.stdout), done.stdout[-2000:]
