"""`make generate`: everything generated from the specs, in one go.

    generated/python/                              tools/gen_python.py
    generated/QueueITAPI/                               tools/gen_swift.py
    tests/swift-examples/Tests/ExamplesTests/Generated/   tools/swift_examples.py

Each generator writes into a scratch folder; the result then replaces the target folder, keeping
only build caches (.build, __pycache__, *.egg-info...) that are not generated output.
`python -m tools.check_generated` runs the same generators and compares instead of replacing.

Usage: python -m tools.generate [--root ROOT]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tools import gen_python, gen_swift, swift_examples
from tools.contract import ASYNCAPI, OPENAPI, REPO
from tools.outdir import files, replace


def targets(root: Path) -> dict[str, Path]:
    """Name -> folder of every generated output, relative to `root`."""
    return {
        "python": root / "generated" / "python",
        "swift": root / "generated" / "QueueITAPI",
        "swift-examples": root / swift_examples.FIXTURE_DIR,
    }


def generate_into(root: Path, scratch: Path) -> dict[str, Path]:
    """Run every generator into `scratch`; return name -> output folder."""
    for spec in (OPENAPI, ASYNCAPI):
        if not (root / spec).is_file():
            raise SystemExit(f"{root / spec} does not exist")
    out = {name: scratch / name for name in targets(root)}
    gen_python.generate(root, out["python"])
    gen_swift.generate(root, out["swift"])
    swift_examples.write(root, out["swift"], out["swift-examples"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate code from the specs.")
    parser.add_argument("--root", type=Path, default=REPO)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="queueit-generate-") as tmp:
        made = generate_into(root, Path(tmp))
        for name, dst in targets(root).items():
            replace(made[name], dst)
            print(f"generated {dst.relative_to(root)} ({len(files(dst))} files)")
    print(f"done in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
