"""The job bites: a tiny ASGI app that breaks the contract on purpose, one way at a time, is
fuzzed exactly as the live server is (`ct_schema.send`: schemathesis cases, every built-in check
and QueueIT's), and each break must be reported by the checks named here. The same app
unbroken passes, so the failures are the breaks', not the harness's.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ct_schema
import ct_spec
import hypothesis
import pytest
import uvicorn
from schemathesis.core.failures import FailureGroup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCHEMA = ct_schema.load()
TOKEN = "the-one-valid-token"
PLAYING = ct_spec.document()["components"]["examples"]["PlayingSession"]["value"]


def tiny_app() -> Starlette:
    """GET /api/v1/sessions/current as the contract says (a session with a bearer token, a
    problem without), except for `app.state.breakage`."""

    async def current(request: Request) -> Response:
        breakage = request.app.state.breakage
        authorized = request.headers.get("authorization") == f"Bearer {TOKEN}" or (
            breakage == "accepts_any_token" and request.headers.get("authorization")
        )
        rid = secrets.token_hex(8)
        headers = {} if breakage == "no_request_id" else {"X-Request-ID": rid}
        if breakage == "server_error":
            problem = _problem(500, "internal_error", rid)
            return JSONResponse(problem, 500, headers, media_type="application/problem+json")
        if not authorized or breakage in (
            "plain_json_error",
            "problem_request_id",
            "problem_status",
        ):
            if breakage == "plain_json_error":
                return JSONResponse({"detail": "Not Found"}, 404, headers)
            problem = _problem(404, "not_in_session", rid)
            if breakage == "problem_request_id":
                problem["request_id"] = "another-id"
            if breakage == "problem_status":
                problem["status"] = 400
            status = 401 if not authorized else 404
            if status == 401:
                problem = {
                    **problem,
                    "status": 401,
                    "code": "unauthorized",
                    "title": "Unauthorized",
                }
            return JSONResponse(problem, status, headers, media_type="application/problem+json")
        body = copy.deepcopy(PLAYING)
        if breakage == "naive_datetime":
            body["session"]["created_at"] = "2025-11-22T10:30:00"
        if breakage == "fractional_datetime":
            body["playback"]["started_at"] = "2025-11-22T10:34:00.250Z"
        if breakage == "renamed_field":
            body["session"]["joinCode"] = body["session"].pop("join_code")
        if breakage == "queue_out_of_order":  # the later-added of two tied songs first
            song = copy.deepcopy(body["playback"]["current_entry"])
            first = {**song, "status": "queued", "added_seq": 7, "votes": 2}
            later = {**first, "id": "0b1f2e3d-4c5b-4a69-8778-695a4b3c2d1e", "added_seq": 9}
            body["queue"] = [later, first]
        if breakage == "wrong_skip_threshold":
            body["playback"]["skip_votes_needed"] += 1
        status = 201 if breakage == "undocumented_status" else 200
        return JSONResponse(body, status, headers)

    app = Starlette(routes=[Route("/api/v1/sessions/current", current, methods=["GET"])])
    app.state.breakage = None
    return app


@dataclass
class TinyServer:
    url: str
    app: Starlette


@pytest.fixture(scope="module")
def tiny() -> Iterator[TinyServer]:
    """The tiny app on a real uvicorn on 127.0.0.1, like the live server (HTTP, not ASGI
    in-process: some checks re-send requests to the server that answered)."""
    app = tiny_app()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield TinyServer(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(10)


def _problem(status: int, code: str, rid: str) -> dict[str, Any]:
    return {
        "type": f"https://queueit.app/problems/{code}",
        "title": "Not Found",
        "status": status,
        "detail": "You are not in a session.",
        "code": code,
        "request_id": rid,
    }


@pytest.fixture
def failed_checks() -> Iterator[set[str]]:
    """Names of the checks that failed on any response while the test ran."""
    failed: set[str] = set()

    def listen(case: Any, response: Any, results: list[Any]) -> None:
        failed.update(r.name for r in results if r.failure is not None)

    ct_schema.LISTENERS.append(listen)
    yield failed
    ct_schema.LISTENERS.remove(listen)


def fuzz_tiny_app(tiny: TinyServer, breakage: str | None, *, authenticated: bool) -> None:
    """Generated cases of getCurrentSession against the tiny app, through ct_schema.send."""
    tiny.app.state.breakage = breakage
    headers = {"Authorization": f"Bearer {TOKEN}"} if authenticated else {}
    operation = SCHEMA.find_operation_by_id("getCurrentSession")

    @hypothesis.given(case=operation.as_strategy())
    @hypothesis.settings(max_examples=10, database=None, deadline=None, derandomize=True)
    def run(case: Any) -> None:
        ct_schema.send(
            case, base_url=tiny.url, headers=headers, source="bites", role="bites", capture=False
        )

    run()


@pytest.mark.parametrize("authenticated", [True, False], ids=["session", "problem"])
def test_the_unbroken_tiny_app_passes(
    tiny: TinyServer, authenticated: bool, failed_checks: set[str]
) -> None:
    fuzz_tiny_app(tiny, None, authenticated=authenticated)
    assert not failed_checks


BREAKAGES = {
    # breakage: (send a token?, checks that must report it)
    "naive_datetime": (True, {"response_schema_conformance", "wire_datetimes"}),
    "fractional_datetime": (True, {"response_schema_conformance", "wire_datetimes"}),
    "plain_json_error": (True, {"content_type_conformance", "problem_details"}),
    "undocumented_status": (True, {"status_code_conformance"}),
    "renamed_field": (True, {"response_schema_conformance"}),
    "no_request_id": (True, {"response_headers_conformance", "request_id_header"}),
    "problem_request_id": (True, {"problem_details"}),
    "problem_status": (True, {"problem_details"}),
    "server_error": (True, {"not_a_server_error", "no_server_error"}),
    "accepts_any_token": (True, {"ignored_auth"}),
    "queue_out_of_order": (True, {"session_state"}),
    "wrong_skip_threshold": (True, {"session_state"}),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_the_job_catches(tiny: TinyServer, breakage: str, failed_checks: set[str]) -> None:
    authenticated, expected = BREAKAGES[breakage]
    with pytest.raises(FailureGroup):
        fuzz_tiny_app(tiny, breakage, authenticated=authenticated)
    missing = expected - failed_checks
    assert not missing, f"{breakage}: not reported by {missing} (reported: {failed_checks})"


SOCKET_BREAKAGES = {
    "naive_datetime": {"type": "ping", "at": "2025-11-22T10:35:20"},
    "renamed_field": {
        "type": "votes_updated",
        "seq": 42,
        "session_id": "3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f",
        "created_at": "2025-11-22T10:35:02Z",
        "data": {"queuedSongId": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c", "total_votes": 5},
    },
    "undocumented_type": {"type": "votes_changed", "seq": 1},
    "fractional_datetime_in_snapshot_queue": {
        "type": "song_added",
        "seq": 2,
        "session_id": "3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f",
        "created_at": "2025-11-22T10:33:40.5Z",
        "data": {"queued_song": PLAYING["playback"]["current"]},
    },
}


@pytest.mark.parametrize("breakage", sorted(SOCKET_BREAKAGES))
def test_the_socket_checks_catch(breakage: str) -> None:
    """What ct_ws.WsClient runs on every received message rejects broken ones."""
    from queueit.realtime.conformance import ConformanceError, validate_server_message

    with pytest.raises(ConformanceError):
        validate_server_message(SOCKET_BREAKAGES[breakage])
