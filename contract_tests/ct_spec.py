"""What the contract job reads from openapi/queueit.yaml besides what schemathesis does.

response_type(operation_id, status)  the component schema a response body is (for Swift)
FREE_TEXT_KEYS                        properties holding caller-chosen text (a track `name`
                                      may well read "2025-01-01T10:00"; it is not a date)
OPERATIONS                            operationId -> (method, path)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from queueit.contract_files import OPENAPI_PATH
from tools.contract import HTTP_METHODS, load_yaml, pointer_get


@functools.cache
def document() -> dict[str, Any]:
    doc: dict[str, Any] = load_yaml(OPENAPI_PATH)
    return doc


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = pointer_get(document(), ref[1:])
    return node


@functools.cache
def operations() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for path, item in document()["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                found[op["operationId"]] = (method.upper(), path)
    return found


def operation(operation_id: str) -> dict[str, Any]:
    method, path = operations()[operation_id]
    op: dict[str, Any] = document()["paths"][path][method.lower()]
    return op


def has_inputs(operation_id: str) -> bool:
    """Whether the operation takes parameters or a body (anything a generator can vary)."""
    _, path = operations()[operation_id]
    item = document()["paths"][path]
    op = operation(operation_id)
    return bool(item.get("parameters") or op.get("parameters") or op.get("requestBody"))


def is_public(operation_id: str) -> bool:
    return operation(operation_id).get("security") == []


def response_type(operation_id: str, status: int) -> str | None:
    """Component schema name of the JSON body of `status` (None when it has no body)."""
    responses = operation(operation_id)["responses"]
    key = next((k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None)
    if key is None:
        return None
    response = _resolve(responses[key])
    for media in (response.get("content") or {}).values():
        ref = (media.get("schema") or {}).get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            return str(ref.rsplit("/", 1)[1])
    return None


def schema(name: str) -> dict[str, Any]:
    found: dict[str, Any] = document()["components"]["schemas"][name]
    return found


def _is_datetime(node: Any) -> bool:
    node = _resolve(node)
    if not isinstance(node, dict):
        return False
    if node.get("format") == "date-time":
        return True
    return any(_is_datetime(sub) for sub in node.get("anyOf", []) + node.get("oneOf", []))


def _properties(node: Any, seen: set[int] | None = None) -> Iterator[tuple[str, Any]]:
    """(name, schema) of every property of every component schema, inline objects included."""
    seen = set() if seen is None else seen
    if not isinstance(node, dict) or id(node) in seen:
        return
    seen.add(id(node))
    for name, prop in (node.get("properties") or {}).items():
        yield name, prop
        yield from _properties(prop, seen)
    for key in ("items", "additionalProperties"):
        yield from _properties(node.get(key), seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key) or []:
            yield from _properties(sub, seen)


def _all_properties() -> Iterator[tuple[str, Any]]:
    seen: set[int] = set()
    for component in document()["components"]["schemas"].values():
        yield from _properties(component, seen)


@functools.cache
def datetime_keys() -> frozenset[str]:
    """Property names that are a date-time somewhere in the spec."""
    return frozenset(name for name, prop in _all_properties() if _is_datetime(prop))


@functools.cache
def free_text_keys() -> frozenset[str]:
    """Property names that hold text a caller chose (never a date-time by contract)."""
    keys: set[str] = set()
    for name, prop in _all_properties():
        resolved = _resolve(prop)
        types = resolved.get("type")
        types = types if isinstance(types, list) else [types]
        if "string" in types and not _is_datetime(prop) and "enum" not in resolved:
            keys.add(name)
    return frozenset(keys - datetime_keys())


def response_schema_names() -> frozenset[str]:
    """Every component schema some response body of the spec is (for the Swift coverage)."""
    names: set[str] = set()
    for operation_id in operations():
        for key in operation(operation_id)["responses"]:
            status = int(key) if key.isdigit() else int(key[0]) * 100
            name = response_type(operation_id, status)
            if name:
                names.add(name)
    return frozenset(names)
