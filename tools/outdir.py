"""Replacing and comparing generated folders without touching build caches beside them."""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path

# Not generated output: build caches a developer's tools leave beside it.
KEEP = (".build", ".swiftpm", "__pycache__", "*.egg-info", "build", "dist", "*.pyc", ".DS_Store")


def _kept(rel: Path) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in rel.parts for pattern in KEEP)


def files(folder: Path) -> dict[str, Path]:
    """Relative path -> file, for every generated file under `folder`."""
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not _kept(p.relative_to(folder))
    }


def replace(src: Path, dst: Path) -> None:
    """Make `dst` hold exactly the files of `src` (build caches in `dst` stay)."""
    new, old = files(src), files(dst)
    for rel in sorted(set(old) - set(new)):
        old[rel].unlink()
    for rel, path in new.items():
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_bytes() != path.read_bytes():
            shutil.copyfile(path, target)
    # Folders left empty by removed files go too.
    for folder in sorted(dst.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if folder.is_dir() and not _kept(folder.relative_to(dst)) and not any(folder.iterdir()):
            folder.rmdir()
