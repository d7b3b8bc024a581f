"""`make release-snapshot`: freeze the working OpenAPI spec as a release.

Copies openapi/queueit.yaml to openapi/released/queueit-<info.version>.yaml. A release is never
edited afterwards: tools/breaking.py (and tests/spec/test_breaking.py) compare the working spec
with the newest one. Refuses to overwrite an existing release unless --force.

Usage: python -m tools.release_snapshot [--root ROOT] [--force]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.contract import OPENAPI, RELEASED_DIR, REPO, load_yaml

HEADER = (
    "# Released QueueIT API {version}: a frozen copy of openapi/queueit.yaml made by\n"
    "# `make release-snapshot`. Never edit it; tools/breaking.py checks the working spec against\n"
    "# it.\n"
)


def snapshot(root: Path, force: bool = False) -> Path:
    source = root / OPENAPI
    version = str(load_yaml(source)["info"]["version"])
    target = root / RELEASED_DIR / f"queueit-{version}.yaml"
    if target.exists() and not force:
        raise SystemExit(f"{target} exists: a release is frozen (bump info.version, or --force)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(HEADER.format(version=version) + source.read_text(encoding="utf-8"))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Freeze the working spec as a release.")
    parser.add_argument("--root", type=Path, default=REPO)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    print(f"wrote {snapshot(args.root.resolve(), args.force)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
