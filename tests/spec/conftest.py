"""Fixtures for the contract-tooling tests.

mini_root   a copy of tests/spec/fixtures/mini (a small spec pair shaped like the real one) in a
            temporary folder, laid out like the repository: openapi/queueit.yaml and
            asyncapi/queueit.yaml. Tests break it on purpose with `edit_spec`.
edit_spec   edit_spec(root, "openapi" | "asyncapi", fn): load that spec, let fn change the dict
            in place, write it back.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from spec_testkit import MINI, Editor

from tools.contract import load_yaml


@pytest.fixture
def mini_root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(MINI, root)
    return root


def write_spec(root: Path, which: str, doc: dict[str, Any]) -> Path:
    path = root / which / "queueit.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


@pytest.fixture
def edit_spec() -> Editor:
    def edit(root: Path, which: str, fn: Callable[[dict[str, Any]], None]) -> Path:
        path = root / which / "queueit.yaml"
        doc = copy.deepcopy(load_yaml(path))
        fn(doc)
        return write_spec(root, which, doc)

    return edit
