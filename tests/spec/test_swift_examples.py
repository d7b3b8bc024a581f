"""Every example body of the specs decodes with the generated Swift models (`swift test`).

tests/swift-examples is a SwiftPM package depending on generated/QueueITAPI by path; its XCTest
reads Generated/examples.json (written by `make generate`, see tools/swift_examples.py). This test
runs it — slow (a Swift build), and never skipped: the iOS app depends on what it proves. Then the
examples as the Swift client re-encodes them are checked against the spec: what the app sends
must be valid, with dates written as YYYY-MM-DDTHH:MM:SSZ.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from spec_testkit import swift_executable

from tools import swift_examples
from tools.contract import REPO, WIRE_DATETIME, Example, Node, Specs
from tools.spec_check import ExampleValidator, datetime_like

PACKAGE = REPO / swift_examples.PACKAGE_DIR
UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def _normalized(value: Any) -> Any:
    """Swift leaves out nil optionals and writes UUIDs in capitals; compare without that."""
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    if isinstance(value, str) and UUID.match(value):
        return value.lower()
    return value


def test_fixtures_match_the_specs() -> None:
    fresh = swift_examples.build(REPO, REPO / "generated" / "QueueITAPI")
    for name, content in fresh.items():
        committed = REPO / swift_examples.FIXTURE_DIR / name
        assert committed.read_text() == content, f"{name} is stale: run `make generate`"


@pytest.mark.slow
def test_swift_decodes_every_example(tmp_path: Path) -> None:
    reencoded = tmp_path / "reencoded.json"
    result = subprocess.run(
        [swift_executable(), "test", "--disable-swift-testing"],
        cwd=PACKAGE,
        env={**os.environ, "QUEUEIT_SWIFT_REENCODED": str(reencoded)},
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert re.search(r"Executed [1-9]\d* tests?, with 0 failures", output), output[-3000:]

    fixtures = json.loads((REPO / swift_examples.FIXTURE_DIR / "examples.json").read_text())
    written = json.loads(reencoded.read_text())
    specs = Specs(REPO)
    by_id = {
        f"{ex.where} [{ex.value.where(specs.root)}]": ex
        for ex in specs.all_examples()
        if ex.body and ex.component
    }
    validator = ExampleValidator()
    problems = []
    for item in fixtures["examples"]:
        ident = item["id"]
        out = written[ident]
        source: Example = by_id[ident]
        check = Example(ident, Node(out, source.value.file, source.value.pointer), source.schema,
                        source.kind)  # fmt: skip
        errors, _ = validator.validate(check)
        problems += [f"{ident}: Swift writes an invalid body: {e}" for e in errors]
        for text in datetime_like(out):
            if not WIRE_DATETIME.match(text):
                problems.append(f"{ident}: Swift writes the date {text!r}")
        if _normalized(out) != _normalized(item["json"]):
            problems.append(f"{ident}: Swift re-encodes it differently:\n  {out}")
    assert not problems, "\n".join(problems)
