"""The hand-written specs, served as-is: /openapi.json, /openapi.yaml, /asyncapi.yaml."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = ROOT / "openapi" / "queueit.yaml"
ASYNCAPI_PATH = ROOT / "asyncapi" / "queueit.yaml"


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    with OPENAPI_PATH.open(encoding="utf-8") as f:
        doc: dict[str, Any] = yaml.safe_load(f)
    return doc


@lru_cache(maxsize=2)
def raw(path: Path) -> bytes:
    return path.read_bytes()
