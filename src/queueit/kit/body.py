"""Request bodies validated strictly against the contract's models.

FastAPI validates bodies in pydantic's lax mode, which would take `{"vote_value": "1"}` or
`{"queue_locked": "true"}` although the contract says integer / boolean. `json_body(Model)` parses
the raw JSON in strict mode instead, with JSON Schema's two differences from pydantic's strict
mode put right: a number with a zero fraction (`10.0`) is an integer, and a boolean is never a
number (pydantic would take `false` for an IntEnum's 0), and an optional property is null only
where the spec says it may be (the generated models take None for every optional field). What
fails is the same problem as
elsewhere: 400 `malformed_json` for broken JSON, `invalid_utf8` for bytes that are not UTF-8,
`duplicate_key` for a key named twice, 422 with `errors[]` for schema violations, 415 for a body
not sent as application/json (a missing Content-Type included).

    async def endpoint(body: Annotated[VoteRequest, json_body(VoteRequest)]) -> Response: ...
"""

from __future__ import annotations

import enum
import json
import types
import typing
from functools import cache
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from queueit.contract_files import openapi_document
from queueit.http.problems import ProblemError

M = TypeVar("M", bound=BaseModel)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _members(annotation: Any) -> tuple[Any, ...]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return tuple(m for a in typing.get_args(annotation) for m in _members(a))
    return (annotation,)


@cache
def _number_enum_fields(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    """Fields that need the boolean check (integer enums), and nested models to look into."""
    found: dict[str, type[BaseModel] | None] = {}
    for name, field in model.model_fields.items():
        for member in _members(field.annotation):
            if isinstance(member, type) and issubclass(member, enum.IntEnum):
                found[name] = None
            elif isinstance(member, type) and issubclass(member, BaseModel):
                if _number_enum_fields(member):
                    found[name] = member
    return found


def _booleans_as_numbers(model: type[BaseModel], data: Any, loc: tuple[str, ...]) -> list[Any]:
    errors: list[Any] = []
    if not isinstance(data, dict):
        return errors
    for name, nested in _number_enum_fields(model).items():
        value = data.get(name)
        if nested is not None:
            errors += _booleans_as_numbers(nested, value, (*loc, name))
        elif isinstance(value, bool):
            errors.append(
                {
                    "type": "int_type",
                    "loc": (*loc, name),
                    "msg": "Input should be a valid integer, not a boolean",
                    "input": value,
                }
            )
    return errors


def _nullable(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return True
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_nullable(s) for s in schema.get("anyOf", []) + schema.get("oneOf", []))


@cache
def _not_nullable(model: type[BaseModel]) -> frozenset[str]:
    """Optional properties of the model's spec schema (same name) that may not be null."""
    schema = openapi_document().get("components", {}).get("schemas", {}).get(model.__name__)
    if not isinstance(schema, dict):
        return frozenset()
    properties = schema.get("properties", {})
    return frozenset(name for name, prop in properties.items() if not _nullable(prop))


def _nulls(value: BaseModel, loc: tuple[str, ...]) -> list[Any]:
    errors: list[Any] = []
    for name in _not_nullable(type(value)) & value.model_fields_set:
        item = getattr(value, name, None)
        if item is None:
            errors.append(
                {"type": "none_forbidden", "loc": (*loc, name), "msg": "Input should not be null"}
            )
        elif isinstance(item, BaseModel):
            errors += _nulls(item, (*loc, name))
    return errors


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def _is_integral_float_error(error: Any) -> bool:
    value = error.get("input")
    return error.get("type") == "int_type" and isinstance(value, float) and value.is_integer()


def validate_json(model: type[M], raw: bytes) -> M:
    """`raw` as `model`, strictly; raises RequestValidationError (locations under "body")."""
    try:
        try:
            result = model.model_validate_json(raw, strict=True)
        except ValidationError as exc:
            if not any(_is_integral_float_error(e) for e in exc.errors()):
                raise
            # `10.0` is an integer in JSON Schema: say it as `10` and validate again
            try:
                normalized = json.dumps(_integral_floats_as_ints(json.loads(raw)))
            except ValueError:
                raise exc from None
            result = model.model_validate_json(normalized, strict=True)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    nulls = _nulls(result, ("body",))
    if nulls:
        raise RequestValidationError(nulls)
    if _number_enum_fields(model) and (b"true" in raw or b"false" in raw):
        try:
            data = json.loads(raw)
        except ValueError:  # pydantic's parser took it; nothing more to check then
            return result
        wrong = _booleans_as_numbers(model, data, ("body",))
        if wrong:
            raise RequestValidationError(wrong)
    return result


async def read_json(request: Request, model: type[M]) -> M:
    """The request's body as `model` (required)."""
    value = await _read(request, model, required=True)
    assert value is not None
    return value


async def _read(request: Request, model: type[M], *, required: bool) -> M | None:
    raw = await request.body()
    if not raw.strip():
        if not required:
            return None
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "A JSON body is required"}]
        )
    content_type = request.headers.get("content-type")
    if content_type is None or not _is_json(content_type):
        shown = "no Content-Type" if content_type is None else content_type[:100]
        raise ProblemError(
            "unsupported_media_type",
            f"The body must be sent as application/json, not {shown}.",
            status=415,
        )
    check_json_text(raw)
    return validate_json(model, raw)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def check_json_text(raw: bytes) -> None:
    """Refuse what a JSON parser would quietly repair: bytes that are not UTF-8 (400
    `invalid_utf8`; they would become U+FFFD) and a key named twice in one object (400
    `duplicate_key`; the last one would win, so `{"action":"bogus","action":"pause"}` would
    pause). Anything else that is not JSON is left to the model's parser (`malformed_json`)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemError(
            "invalid_utf8", f"The body is not valid UTF-8 (byte {exc.start}).", status=400
        ) from None
    try:
        json.loads(text, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKey as exc:
        raise ProblemError(
            "duplicate_key", f"The key {exc.key[:100]!r} appears twice in one object.", status=400
        ) from None
    except RecursionError:
        # `[[[[…]]]]` thousands deep: Python's parser gives up at its recursion limit (~1,000
        # levels). No body of the contract is nested more than a few levels.
        raise ProblemError(
            "malformed_json",
            "The body is nested too deeply to be a request of this API.",
            status=400,
        ) from None
    except ValueError:
        return


def json_body(model: type[M], *, required: bool = True) -> Any:
    """A dependency giving the body as `model` (None for an absent optional body)."""

    async def parse(request: Request) -> M | None:
        return await _read(request, model, required=required)

    return Depends(parse)
