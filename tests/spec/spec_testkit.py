"""Shared names for the contract-tooling tests (a module of its own: importing `conftest` by name
is ambiguous when several test folders have one)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tools` is imported as a package from the repository root
    sys.path.insert(0, str(REPO))

MINI = Path(__file__).resolve().parent / "fixtures" / "mini"

Editor = Callable[[Path, str, Callable[[dict[str, Any]], None]], Path]


def swift_executable() -> str:
    """The Swift toolchain's `swift` (PATH, else /opt/swift); the Swift tests never skip."""
    found = shutil.which("swift") or (
        "/opt/swift/usr/bin/swift" if Path("/opt/swift/usr/bin/swift").exists() else None
    )
    assert found, "swift is not installed: the Swift tests cannot be skipped"
    return found
