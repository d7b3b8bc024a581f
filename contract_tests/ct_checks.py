"""QueueIT's own response checks (DESIGN §1 wire conventions), registered with schemathesis.

Importing this module registers them globally: every `case.call_and_validate()` /
`case.validate_response()` in the process runs them next to schemathesis' built-in checks.

    problem_details       every 4xx/5xx is application/problem+json whose `status` is the HTTP
                          status and whose `request_id` is the X-Request-ID header
    request_id_header     every response has a well-formed X-Request-ID (the caller's, when the
                          caller sent a well-formed one)
    wire_datetimes        every date-time anywhere in a JSON body is YYYY-MM-DDTHH:MM:SSZ
    no_server_error       no 5xx, ever (a 503 would mean the database went away mid-run)

Each check is also a plain function of (status, headers, body), `violations_*`, so the realtime
tests and the Swift capture use the same rules on bodies that did not come through schemathesis.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import ct_spec
import schemathesis
from schemathesis import Case, CheckContext, Response

WIRE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# Anything a client could take for a date-time: a date, a T or space, hours and minutes.
LOOKS_LIKE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
# Values of these keys are text a caller chose (a track may be called "2025-01-01 10:00"); every
# other string anywhere in a body - documented or not - that looks like a date-time must be one.
FREE_TEXT_KEYS = ct_spec.free_text_keys()
# Values of these keys are date-times wherever they appear (or null).
DATETIME_KEYS = ct_spec.datetime_keys()
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
PROBLEM_MEDIA_TYPE = "application/problem+json"


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            if isinstance(value, list):
                return str(value[0]) if value else None
            return str(value)
    return None


def _media_type(headers: Mapping[str, Any]) -> str | None:
    value = _header(headers, "content-type")
    return value.split(";")[0].strip().lower() if value else None


def bad_datetimes(value: Any, path: str = "") -> Iterator[str]:
    """JSON-pointer=value of every string that looks like a date-time but is not the wire format."""
    if isinstance(value, str):
        if LOOKS_LIKE_DATETIME.match(value) and not WIRE_DATETIME.match(value):
            yield f"{path or '/'}={value!r}"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key in DATETIME_KEYS and item is not None and not isinstance(item, (dict, list)):
                if not (isinstance(item, str) and WIRE_DATETIME.match(item)):
                    yield f"{path}/{key}={item!r}"
                continue
            if key in FREE_TEXT_KEYS and isinstance(item, str):
                continue
            yield from bad_datetimes(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from bad_datetimes(item, f"{path}/{index}")


def _json(content: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(content)
    except ValueError:
        return False, None


def violations_problem(status: int, headers: Mapping[str, Any], content: bytes) -> list[str]:
    if status < 400:
        return []
    problems = []
    media = _media_type(headers)
    if media != PROBLEM_MEDIA_TYPE:
        problems.append(f"{status} with Content-Type {media!r}, not {PROBLEM_MEDIA_TYPE}")
    ok, body = _json(content)
    if not ok or not isinstance(body, dict):
        problems.append(f"{status} body is not a JSON object: {content[:200]!r}")
        return problems
    for name in ("type", "title", "detail", "code", "request_id"):
        if not isinstance(body.get(name), str):
            problems.append(f"problem field {name!r} missing or not a string: {body.get(name)!r}")
    if body.get("status") != status:
        problems.append(f"problem `status` is {body.get('status')!r}, the response is {status}")
    rid = _header(headers, "x-request-id")
    if body.get("request_id") != rid:
        problems.append(
            f"problem `request_id` is {body.get('request_id')!r}, X-Request-ID is {rid!r}"
        )
    return problems


def violations_request_id(
    headers: Mapping[str, Any], sent: Mapping[str, Any] | None = None
) -> list[str]:
    rid = _header(headers, "x-request-id")
    if rid is None:
        return ["no X-Request-ID header"]
    if not REQUEST_ID.match(rid):
        return [f"X-Request-ID {rid!r} is not 1-128 of [A-Za-z0-9._-]"]
    mine = _header(sent or {}, "x-request-id")
    if mine is not None and REQUEST_ID.match(mine) and mine != rid:
        return [f"sent X-Request-ID {mine!r}, got back {rid!r}"]
    return []


def violations_datetimes(headers: Mapping[str, Any], content: bytes) -> list[str]:
    media = _media_type(headers) or ""
    if not (media == "application/json" or media.endswith("+json")) or not content:
        return []
    ok, body = _json(content)
    if not ok:
        return []  # not JSON at all: content_type_conformance / response_schema_conformance say so
    bad = sorted(set(bad_datetimes(body)))
    return [f"date-times not in the wire format YYYY-MM-DDTHH:MM:SSZ: {bad}"] if bad else []


def _fail(problems: list[str]) -> None:
    if problems:
        raise AssertionError("\n".join(problems))


@schemathesis.check
def problem_details(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    _fail(violations_problem(response.status_code, response.headers, response.content))
    return None


@schemathesis.check
def request_id_header(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    _fail(violations_request_id(response.headers, dict(response.request.headers)))
    return None


@schemathesis.check
def wire_datetimes(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    _fail(violations_datetimes(response.headers, response.content))
    return None


@schemathesis.check
def no_server_error(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    if response.status_code >= 500:
        raise AssertionError(
            f"{response.status_code} from {case.operation.label}: "
            f"{response.content[:500].decode('utf-8', 'replace')}"
        )
    return None


CUSTOM_CHECKS = ("problem_details", "request_id_header", "wire_datetimes", "no_server_error")
