"""The working spec does not break the released one (openapi/released/queueit-<version>.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import breaking, release_snapshot
from tools.contract import ASYNCAPI, OPENAPI, REPO, load_yaml


def test_working_spec_keeps_the_release() -> None:
    release = breaking.newest_release(REPO)
    if release is None:
        pytest.skip("no release under openapi/released yet: run `make release-snapshot`")
    findings = breaking.compare(release, REPO / OPENAPI, REPO / ASYNCAPI)
    assert not findings, (
        f"breaking changes against {release.name} (deprecate instead of removing):\n"
        + "\n".join(f"  - {f}" for f in findings)
    )


def test_the_real_spec_compared_with_itself_has_no_findings() -> None:
    assert breaking.compare(REPO / OPENAPI, REPO / OPENAPI) == []


def test_release_snapshot_is_frozen(mini_root: Path) -> None:
    target = release_snapshot.snapshot(mini_root)
    assert target == mini_root / "openapi" / "released" / "queueit-1.0.0.yaml"
    assert load_yaml(target) == load_yaml(mini_root / OPENAPI)
    assert target.read_text().startswith("# Released QueueIT API 1.0.0")
    with pytest.raises(SystemExit, match="frozen"):
        release_snapshot.snapshot(mini_root)
    assert breaking.newest_release(mini_root) == target
    assert breaking.main(["--root", str(mini_root)]) == 0
