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
from pathlib import Path
from typing import Any

import ct_spec
from ct_capture import CORPUS, MESSAGE_TYPES
from ct_stats import STATS

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
    live: Any, rest_tour: Any, ws_party: Any
) -> None:
    required = set(ct_spec.response_schema_names()) | PARTY_MESSAGES
    missing = sorted(required - CORPUS.types())
    assert not missing, f"no body of these types was captured from the server: {missing}"
    written = CORPUS.write(CAPTURED)

    host, guest = live.new_name("swift-host"), live.new_name("swift-guest")
    env = {
        **os.environ,
        "QUEUEIT_LIVE_BASE_URL": live.url,
        "QUEUEIT_LIVE_HOST_TOKEN": live.token(host),
        "QUEUEIT_LIVE_GUEST_TOKEN": live.token(guest),
        "QUEUEIT_LIVE_CAPTURED": str(CAPTURED),
    }
    result = subprocess.run(
        [_swift(), "test", "--disable-swift-testing"],
        cwd=PACKAGE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12000:]
    totals = re.findall(r"Executed (\d+) tests?, with (\d+) failures", output)
    assert totals, output[-4000:]
    executed, failures = (int(n) for n in totals[-1])  # the last line is the whole run
    assert failures == 0 and executed >= 4, output[-4000:]
    assert "QUEUEIT-LIVE-PARTY-OK" in output, output[-4000:]
    assert "QUEUEIT-LIVE-SETTINGS-OK" in output, output[-4000:]  # three-way settings update
    assert "QUEUEIT-LIVE-CLIENT-OK" in output, output[-4000:]  # QueueITClient, typed errors
    decoded = re.search(r"QUEUEIT-CAPTURED-DECODED (\d+)", output)
    assert decoded and int(decoded.group(1)) == 2 * written, output[-4000:]
    STATS.count("swift tests passed", executed)
    STATS.count("captured bodies decoded by Swift (x2 decoders)", written)
