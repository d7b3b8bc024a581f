"""JSON rendering with the wire's date format.

Every date-time leaves as RFC 3339 UTC with `Z` and whole seconds (`2025-11-22T10:30:00Z`), the
format the iOS app's stock `.iso8601` decoder accepts. Contract models carry that rule themselves
(the generated `WireDatetime`), so a model is serialized by pydantic in one pass. Plain mappings
(already-encoded event payloads, the spec document) go through orjson with the same date rules
(OPT_UTC_Z, OPT_OMIT_MICROSECONDS; a naive datetime is taken as UTC, never emitted naked).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import Response

_OPTS = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS | orjson.OPT_NAIVE_UTC


def _to_utc(value: Any) -> Any:
    """Turn aware non-UTC datetimes into UTC (orjson would keep their offset)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() != UTC.utcoffset(None):
            return value.astimezone(UTC)
        return value
    if isinstance(value, dict):
        return {k: _to_utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_utc(v) for v in value]
    return value


def encode(
    model: BaseModel | Mapping[str, Any] | list[Any], *, exclude_none: bool = False
) -> bytes:
    if isinstance(model, BaseModel):
        return model.__pydantic_serializer__.to_json(model, exclude_none=exclude_none)
    return orjson.dumps(_to_utc(model), option=_OPTS)


class ContractJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return encode(content)


def respond(
    model: BaseModel | Mapping[str, Any] | list[Any],
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> ContractJSON:
    return ContractJSON(model, status_code=status_code, headers=dict(headers or {}))
