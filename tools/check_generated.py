"""`make check-generated`: regenerate into a scratch folder and fail on any difference.

Prints which files were added, removed or changed, and the start of each diff.

Usage: python -m tools.check_generated [--root ROOT]
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from pathlib import Path

from tools.contract import REPO
from tools.generate import generate_into, targets
from tools.outdir import files

MAX_DIFF_LINES = 40


def differences(root: Path) -> list[str]:
    """Human-readable differences between the committed and the freshly generated output."""
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="queueit-check-generated-") as tmp:
        made = generate_into(root, Path(tmp))
        for name, committed_dir in targets(root).items():
            fresh, committed = files(made[name]), files(committed_dir)
            label = committed_dir.relative_to(root).as_posix()
            for rel in sorted(set(fresh) - set(committed)):
                report.append(f"missing  {label}/{rel} (the spec generates it)")
            for rel in sorted(set(committed) - set(fresh)):
                report.append(f"extra    {label}/{rel} (the spec no longer generates it)")
            for rel in sorted(set(fresh) & set(committed)):
                a, b = committed[rel].read_bytes(), fresh[rel].read_bytes()
                if a == b:
                    continue
                diff = list(
                    difflib.unified_diff(
                        a.decode(errors="replace").splitlines(),
                        b.decode(errors="replace").splitlines(),
                        f"committed/{label}/{rel}",
                        f"generated/{label}/{rel}",
                        lineterm="",
                    )
                )
                report.append(f"changed  {label}/{rel} ({len(diff)} diff lines)")
                report += ["    " + line for line in diff[:MAX_DIFF_LINES]]
                if len(diff) > MAX_DIFF_LINES:
                    report.append("    ...")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fail when generated code differs from the spec.")
    parser.add_argument("--root", type=Path, default=REPO)
    args = parser.parse_args(argv)
    report = differences(args.root.resolve())
    if report:
        print("Generated code is out of date with the specs. Run `make generate` and commit.")
        print("\n".join(report))
        return 1
    print("generated code is up to date with the specs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
