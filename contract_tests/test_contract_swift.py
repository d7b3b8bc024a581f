"""The generated Swift client against the live server: `swift test` in
contract_tests/swift/QueueITLiveContract.

The package depends on generated/QueueITAPI by path. Its tests get the server's base URL, two fresh
users' tokens and the bodies captured from the server during this run (the fuzzer's, the REST
tour's, the WebSocket party's) through environment variables. Never skipped: a missing Swift
toolchain or any Swift failure fails this test. Build artifacts stay in the package's .build
folder (ignored by git).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import ct_spec
from ct_capture import CORPUS, MESSAGE_TYPES
from ct_stats import STATS

from queueit.auth.dev import mint_dev_token

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "swift" / "QueueITLiveContract"
CAPTURED = HERE / "build" / "captured" / "bodies.json"
# Socket messages the scripted party always produces (a server `ping` needs 20 idle seconds and
# `session_ending` hours of idleness: the spec examples cover those, tests/swift-examples).
PARTY_MESSAGES = {"SnapshotMessage", "PongMessage", "ErrorMessage", "SessionEvent"} | {
    name
    for kind, name in MESSAGE_TYPES.items()
    if name.endswith("Event") and kind != "session_ending"
}


def _swift() -> str:
    found = shutil.which("swift") or (
        "/opt/swift/usr/bin/swift" if Path("/opt/swift/usr/bin/swift").exists() else None
    )
    assert found, "swift is not installed: the Swift contract test cannot be skipped"
    return found


def test_generated_swift_client_against_the_live_server(
    live: Any, live_database: str, rest_tour: Any, ws_party: Any
) -> None:
    required = set(ct_spec.response_schema_names()) | PARTY_MESSAGES
    missing = sorted(required - CORPUS.types())
    assert not missing, f"no body of these types was captured from the server: {missing}"
    written = CORPUS.write(CAPTURED)

    host, guest = live.new_name("swift-host"), live.new_name("swift-guest")
    feed_members = [live.new_name(f"swift-feed{n}") for n in range(3)]
    env = {
        **os.environ,
        "QUEUEIT_LIVE_BASE_URL": live.url,
        "QUEUEIT_LIVE_HOST_TOKEN": live.token(host),
        "QUEUEIT_LIVE_GUEST_TOKEN": live.token(guest),
        "QUEUEIT_LIVE_CAPTURED": str(CAPTURED),
        # LiveFeedTests: PartyFeed over the relay transport (a real socket from Python's
        # websockets), and events a newer server would send, appended in the live database.
        "QUEUEIT_LIVE_FEED_TOKENS": ",".join(live.token(name) for name in feed_members),
        # the follower's first token lives 65 s: PartyFeed must send a fresh one as `auth`
        "QUEUEIT_LIVE_FEED_SHORT_TOKEN": mint_dev_token(
            feed_members[1], live.settings, lifetime=timedelta(seconds=65)
        ),
        "QUEUEIT_LIVE_PYTHON": sys.executable,
        "QUEUEIT_LIVE_RELAY": str(HERE / "ct_ws_relay.py"),
        "QUEUEIT_LIVE_INJECT": str(HERE / "ct_inject_event.py"),
        "QUEUEIT_LIVE_DSN": live_database,
    }
    result = subprocess.run(
        [_swift(), "test", "--disable-swift-testing"],
        cwd=PACKAGE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12000:]
    totals = re.findall(r"Executed (\d+) tests?, with (\d+) failures", output)
    assert totals, output[-4000:]
    executed, failures = (int(n) for n in totals[-1])  # the last line is the whole run
    assert failures == 0 and executed >= 5, output[-4000:]
    assert "QUEUEIT-LIVE-PARTY-OK" in output, output[-4000:]
    assert "QUEUEIT-LIVE-SETTINGS-OK" in output, output[-4000:]  # three-way settings update
    assert "QUEUEIT-LIVE-CLIENT-OK" in output, output[-4000:]  # QueueITClient, typed errors
    feed = re.search(r"QUEUEIT-LIVE-FEED-OK (.*)", output)  # PartyFeed, the realtime client
    assert feed, output[-4000:]
    figures = dict(pair.split("=", 1) for pair in feed.group(1).split() if "=" in pair)
    assert int(figures["members"]) == 3 and int(figures["gaps_refilled"]) == 1, feed.group(0)
    assert int(figures["reconnects"]) >= 1 and int(figures["unknown_frames"]) >= 1, feed.group(0)
    assert int(figures["token_refreshes"]) == 1, feed.group(0)
    for name in (
        "members",
        "events",
        "reconnects",
        "gaps_refilled",
        "refilled_events",
        "token_refreshes",
    ):
        STATS.count(f"swift PartyFeed {name.replace('_', ' ')}", int(figures[name]))
    decoded = re.search(r"QUEUEIT-CAPTURED-DECODED (\d+)", output)
    assert decoded and int(decoded.group(1)) == 2 * written, output[-4000:]
    STATS.count("swift tests passed", executed)
    STATS.count("captured bodies decoded by Swift (x2 decoders)", written)
