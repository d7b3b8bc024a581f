"""QueueIT's own response checks (DESIGN §1 wire conventions), registered with schemathesis.

Importing this module registers them globally: every `case.call_and_validate()` /
`case.validate_response()` in the process runs them next to schemathesis' built-in checks.

    problem_details       every 4xx/5xx is application/problem+json whose `status` is the HTTP
                          status and whose `request_id` is the X-Request-ID header
    request_id_header     every response has a well-formed X-Request-ID (the caller's, when the
                          caller sent a well-formed one)
    wire_datetimes        every date-time anywhere in a JSON body is YYYY-MM-DDTHH:MM:SSZ
    session_state         every queue is in the spec's play order, every skip_votes_needed
                          follows the spec's rule (what a client recomputes is what it got)
    no_server_error       no 5xx, ever (a 503 would mean the database went away mid-run)

Each check is also a plain function of (status, headers, body), `violations_*`, so the realtime
tests and the Swift capture use the same rules on bodies that did not come through schemathesis.
"""

from __future__ import annotations

import json
import math
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


def _json_body(headers: Mapping[str, Any], content: bytes) -> tuple[bool, Any]:
    """(True, body) for a non-empty body sent and parsed as JSON; (False, None) otherwise (not
    JSON at all: content_type_conformance / response_schema_conformance say so)."""
    media = _media_type(headers) or ""
    if not (media == "application/json" or media.endswith("+json")) or not content:
        return False, None
    return _json(content)


def violations_datetimes(headers: Mapping[str, Any], content: bytes) -> list[str]:
    ok, body = _json_body(headers, content)
    if not ok:
        return []
    bad = sorted(set(bad_datetimes(body)))
    return [f"date-times not in the wire format YYYY-MM-DDTHH:MM:SSZ: {bad}"] if bad else []


def _session_states(value: Any) -> Iterator[dict[str, Any]]:
    """Every object in a body shaped like a CurrentSessionResponse (the REST answers, a
    snapshot's data, an event carrying one)."""
    if isinstance(value, dict):
        if isinstance(value.get("queue"), list) and "playback" in value and "settings" in value:
            yield value
        for item in value.values():
            yield from _session_states(item)
    elif isinstance(value, list):
        for item in value:
            yield from _session_states(item)


def violations_session_state(body: Any) -> list[str]:
    """What a client computes from the wire by the spec's rules must be what the server sent:
    the queue in play order (votes descending, then `added_seq` ascending, QueuedSong), and
    `skip_votes_needed` = max(skip_vote_min, ceil(skip_vote_share x member_count)) (Playback)."""
    problems: list[str] = []
    for state in _session_states(body):
        queue = state["queue"]
        keys = [(-song.get("votes", 0), song.get("added_seq", 0)) for song in queue]
        if keys != sorted(keys) or len(set(keys)) != len(keys):
            problems.append(f"queue not in play order (votes desc, added_seq asc): {keys}")
        settings, playback = state.get("settings") or {}, state.get("playback") or {}
        members = (state.get("session") or {}).get("member_count")
        share, floor = settings.get("skip_vote_share"), settings.get("skip_vote_min")
        needed = playback.get("skip_votes_needed")
        if None not in (members, share, floor, needed):
            # the server computes in numeric; a share is at most 3 decimals, so this is exact
            expected = max(floor, math.ceil(round(share * members, 9)))
            if needed != expected:
                problems.append(
                    f"skip_votes_needed {needed}, the spec's rule gives {expected}"
                    f" (min {floor}, share {share}, {members} members)"
                )
    return problems


def violations_body(headers: Mapping[str, Any], content: bytes) -> list[str]:
    """The rules on a JSON body's content (violations_session_state)."""
    ok, body = _json_body(headers, content)
    return violations_session_state(body) if ok else []


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
def session_state(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    _fail(violations_body(response.headers, response.content))
    return None


@schemathesis.check
def no_server_error(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    if response.status_code >= 500:
        raise AssertionError(
            f"{response.status_code} from {case.operation.label}: "
            f"{response.content[:500].decode('utf-8', 'replace')}"
        )
    return None


CUSTOM_CHECKS = (
    "problem_details",
    "request_id_header",
    "wire_datetimes",
    "session_state",
    "no_server_error",
)
