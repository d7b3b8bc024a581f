"""What bad input and bad conditions get, one by one (DESIGN §6): a problem+json with the right
status and code, `status` equal to the HTTP status, `request_id` equal to X-Request-ID (both
checked on every response by apikit.check_response), and nothing changed."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from apikit import LiveServer, checked_client, new_actor, ok, problem, track
from pgserver import _commands as pg_commands
from pgserver.postgres_server import PostgresServer, get_server

from queueit.auth.dev import dev_key_path, load_or_create_dev_key, mint_dev_token
from queueit.db import Database, apply, start_embedded
from queueit.logging_setup import JsonFormatter
from tools.contract import HTTP_METHODS, OPENAPI, REPO, load_yaml


async def test_malformed_json_is_400(actor: Any) -> None:
    a = await actor("a")
    for path, body in (
        ("/api/v1/sessions/join", b'{"join_code": '),
        ("/api/v1/sessions/create", b"{not json"),
        (f"/api/v1/songs/{uuid.uuid4()}/vote", b'{"vote_value": 1'),
    ):
        response = await a.client.post(
            path, content=body, headers={"Content-Type": "application/json"}
        )
        problem(response, 400, "malformed_json")
    problem(await a.current(), 404, "not_in_session")  # nothing was created


def json_body_operations() -> list[tuple[str, str]]:
    """(method, path with random ids) of every operation of the spec that takes a JSON body."""
    spec = load_yaml(REPO / OPENAPI)
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS and "requestBody" in operation:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)))
    return found


async def test_deeply_nested_json_is_400_on_every_json_operation(actor: Any) -> None:
    """Before: RecursionError in the duplicate-key check, 500 on every operation."""
    a = await actor("a")
    operations = json_body_operations()
    assert len(operations) >= 7
    for depth in (10_000, 1_000, 300):  # 10,000 objects deep is 60 KB, under the body limit
        for body in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
            for method, path in operations:
                response = await a.client.request(
                    method, path, content=body, headers={"Content-Type": "application/json"}
                )
                problem(response, 400, "malformed_json")
    problem(await a.current(), 404, "not_in_session")  # nothing was created


async def test_bodies_are_strict(actor: Any) -> None:
    """What a lenient parser would repair is refused, and changes nothing."""
    host = await actor("host")
    ok(await host.create())
    before = ok(await host.current())
    json_type = {"Content-Type": "application/json"}
    control = "/api/v1/sessions/control_session"
    # no Content-Type: not taken for JSON
    response = await host.client.patch(control, content=b'{"action": "pause"}')
    assert "no Content-Type" in problem(response, 415, "unsupported_media_type")["detail"]
    # a key twice: the last one would win
    twice = b'{"action": "bogus", "action": "pause"}'
    body = problem(
        await host.client.patch(control, content=twice, headers=json_type), 400, "duplicate_key"
    )
    assert "'action'" in body["detail"]
    nested = b'{"settings": {"allow_explicit": true, "allow_explicit": false}}'
    problem(
        await host.client.post("/api/v1/sessions/create", content=nested, headers=json_type),
        400,
        "duplicate_key",
    )
    # bytes that are not UTF-8 (in a string, and a whole body)
    for raw in (b'{"action": "pa\xffuse"}', b"\xff\xfe"):
        problem(
            await host.client.patch(control, content=raw, headers=json_type), 400, "invalid_utf8"
        )
    assert ok(await host.current()) == before


async def test_path_and_query_must_be_utf8(actor: Any) -> None:
    a = await actor("a")
    body = problem(await a.client.get("/api/v1/spotify/search?q=%FF%FE"), 400, "invalid_utf8")
    assert body["detail"] == "The query string is not valid UTF-8."
    assert ok(await a.client.get("/api/v1/spotify/search?q=caf%C3%A9"))  # real UTF-8 is fine
    body = problem(await a.client.delete("/api/v1/songs/%FF"), 400, "invalid_utf8")
    assert body["detail"] == "The path is not valid UTF-8."


async def test_schema_violations_are_422_with_field_errors(actor: Any) -> None:
    a = await actor("a")
    body = problem(await a.client.post("/api/v1/sessions/join", json={}), 422, "validation_failed")
    assert body["errors"] == [
        {"location": "body", "field": "join_code", "message": "Field required"}
    ]
    body = problem(await a.join("no"), 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["join_code"]
    body = problem(
        await a.client.post("/api/v1/sessions/create", json={"join_code": "ABCD", "x": 1}),
        422,
        "validation_failed",
    )
    assert [e["field"] for e in body["errors"]] == ["x"]
    body = problem(
        await a.client.post("/api/v1/sessions/create", json={"settings": {"skip_vote_min": 0}}),
        422,
        "validation_failed",
    )
    assert [e["field"] for e in body["errors"]] == ["settings.skip_vote_min"]
    body = problem(await a.control("rewind"), 422, "validation_failed")
    assert body["errors"][0]["field"] == "action"
    body = problem(
        await a.client.get(f"/api/v1/sessions/{uuid.uuid4()}/history", params={"limit": 0}),
        422,
        "validation_failed",
    )
    assert body["errors"][0]["location"] == "query"
    body = problem(
        await a.client.get("/api/v1/sessions/not-a-uuid/members"), 422, "validation_failed"
    )
    assert body["errors"][0]["location"] == "path" and body["errors"][0]["field"] == "session_id"
    # an entry id that is not a uuid names no entry (and /songs/add is never taken for one)
    problem(
        await a.client.post("/api/v1/songs/not-a-uuid/vote", json={"vote_value": 1}),
        404,
        "not_found",
    )
    # JSON Schema's numbers: 10.0 is an integer, a boolean is not a number, a string is not either
    body = problem(
        await a.client.post("/api/v1/sessions/create", json={"settings": {}}),
        422,
        "validation_failed",
    )
    assert [e["field"] for e in body["errors"]] == ["settings"]
    for bad in (False, True, "1"):
        body = problem(await a.vote(uuid.uuid4(), bad), 422, "validation_failed")
        assert [e["field"] for e in body["errors"]] == ["vote_value"], bad
    created = ok(await a.create(settings={"max_queued_per_user": 3.0, "skip_vote_share": 1}))
    assert created["settings"]["max_queued_per_user"] == 3
    problem(await a.create(settings={"max_queued_per_user": 3.5}), 422, "validation_failed")
    problem(await a.create(settings={"max_queued_per_user": True}), 422, "validation_failed")
    # null only where the contract allows it
    for body in ({"settings": None}, {"join_code": None}, {"settings": {"allow_explicit": None}}):
        problem(await a.client.post("/api/v1/sessions/create", json=body), 422, "validation_failed")
    assert (
        ok(await a.create(settings={"max_track_duration_ms": None}))["settings"][
            "max_track_duration_ms"
        ]
        is None
    )
    ok(await a.leave())
    body = problem(
        await a.client.get(f"/api/v1/sessions/{uuid.uuid4()}/history", params={"limit": "many"}),
        422,
        "validation_failed",
    )
    assert body["errors"][0]["location"] == "query"
    problem(await a.client.post("/api/v1/sessions/join", json=["PARTY1"]), 422, "validation_failed")
    problem(await a.current(), 404, "not_in_session")


async def test_nul_bytes_and_oversized_strings_never_reach_postgres(
    actor: Any, db: Database
) -> None:
    a = await actor("a")
    ok(await a.create())
    bad_tracks = {
        "name": track(name="bad\u0000name"),
        "artists": track(artists="x" * 501),
        "album": track(album="tab\tin album"),
        "image_url": track(image_url="http://images.example.com/x.jpg"),
        "id": track(id="has space"),
        "isrc": track(isrc="nope"),
        "duration_ms": track(duration_ms=0),
    }
    for field, body in bad_tracks.items():
        response = problem(await a.add(body), 422, "validation_failed")
        assert field in [e["field"] for e in response["errors"]], (field, response)
    problem(await a.join("PARTY\u00001"), 422, "validation_failed")
    problem(
        await a.client.post("/api/v1/sessions/create", json={"join_code": "A" * 10_000}),
        422,
        "validation_failed",
    )
    async with db.system_conn() as conn:
        stored = await conn.fetchval(
            "select count(*) from queueit.tracks where id = any($1::text[])",
            [b["id"] for b in bad_tracks.values()],
        )
    assert stored == 0
    assert ok(await a.current())["queue"] == []


async def test_nul_in_a_token_claim_never_reaches_postgres(api: LiveServer) -> None:
    """Users edit their own `user_metadata`: a NUL in it (or any claim) used to make every
    database operation 500, since PostgreSQL's jsonb cannot hold U+0000."""
    name = f"nul-{uuid.uuid4().hex[:8]}"
    token = mint_dev_token(name, api.settings)
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["user_metadata"] = {"username": "a\u0000b", "nested": ["\u0000", {"k\u0000": 1}]}
    claims["email"] = "x\u0000@example.com"
    header = jwt.get_unverified_header(token)
    key = load_or_create_dev_key(dev_key_path(api.settings))
    forged_by_user = jwt.encode(claims, key, algorithm="ES256", headers=header)
    async with checked_client(api.url, headers={"Authorization": f"Bearer {forged_by_user}"}) as c:
        created = ok(await c.post("/api/v1/sessions/create", json={}))
        host = created["session"]["host"]
        assert host["username"] == "ab"
        assert "\u0000" not in json.dumps(created)
        current = ok(await c.get("/api/v1/sessions/current"))
        assert current["session"]["id"] == created["session"]["id"]
        assert ok(await c.post("/api/v1/sessions/leave"))["session_ended"] is True


async def test_unauthorized(raw_client: Callable[..., Any], api: LiveServer) -> None:
    expired = mint_dev_token("expired-user", api.settings, now=time.time() - 3 * 24 * 3600)
    async with raw_client() as client:
        for headers in (
            {},
            {"Authorization": "Bearer garbage"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": f"Bearer {expired}"},
            {"Authorization": f"Bearer {expired[:-4]}AAAA"},
        ):
            response = await client.get("/api/v1/sessions/current", headers=headers)
            problem(response, 401, "unauthorized")
            response = await client.post(
                "/api/v1/sessions/create", json={"join_code": "NOAUTH1"}, headers=headers
            )
            problem(response, 401, "unauthorized")
        body = problem(
            await client.get(
                "/api/v1/sessions/current", headers={"Authorization": f"Bearer {expired}"}
            ),
            401,
            "unauthorized",
        )
        assert "expired" in body["detail"]


async def test_forbidden_not_found_conflict(actor: Any) -> None:
    host, guest = await actor("host"), await actor("guest")
    chosen = "C" + uuid.uuid4().hex[:7].upper()
    s = ok(await host.create(join_code=chosen))["session"]
    ok(await guest.join(chosen))
    problem(await guest.control("skip"), 403, "not_moderator")
    problem(await guest.client.get("/api/v1/no/such/route"), 404, "not_found")
    problem(
        await guest.client.get(f"/api/v1/sessions/{uuid.uuid4()}/members"), 404, "session_not_found"
    )
    problem(await guest.create(join_code=chosen), 409, "join_code_taken")
    assert (
        ok(await guest.current())["session"]["id"] == s["id"]
    )  # the failed create changed nothing


async def test_method_not_allowed_keeps_allow(actor: Any) -> None:
    a = await actor("a")
    response = await a.client.get("/api/v1/sessions/create")
    problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    response = await a.client.put("/api/v1/sessions/control_session", json={"action": "play"})
    problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "PATCH"
    response = await a.client.patch(f"/api/v1/songs/{uuid.uuid4()}")
    problem(response, 405, "method_not_allowed")
    assert "DELETE" in response.headers["allow"]
    response = await a.client.delete("/api/v1/songs/add")  # not an entry id
    problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    for method in ("PUT", "POST", "DELETE"):
        response = await a.client.request(method, f"/api/v1/sessions/{uuid.uuid4()}/settings")
        problem(response, 405, "method_not_allowed")
        assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "PATCH"}


async def test_payload_too_large_and_media_type(actor: Any) -> None:
    a = await actor("a")
    ok(await a.create())
    big = json.dumps(track(name="x" * 70_000)).encode()
    problem(
        await a.client.post(
            "/api/v1/songs/add", content=big, headers={"Content-Type": "application/json"}
        ),
        413,
        "payload_too_large",
    )

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b" " * 4096

    problem(
        await a.client.post(
            "/api/v1/songs/add", content=chunks(), headers={"Content-Type": "application/json"}
        ),
        413,
        "payload_too_large",
    )
    problem(
        await a.client.post(
            "/api/v1/sessions/join",
            content=b"join_code=PARTY1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        415,
        "unsupported_media_type",
    )
    assert ok(await a.current())["queue"] == []


async def test_rate_limits(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(rate_limit_writes_per_minute=3, rate_limit_joins_per_minute=1)
    host = new_actor(server, "host")
    joiner = new_actor(server, "joiner")
    try:
        s = ok(await host.create())["session"]
        ok(await host.add(track()))
        ok(await host.add(track()))
        response = await host.add(track())  # the 4th write within the minute
        problem(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1
        assert len(ok(await host.current())["queue"]) == 2  # reads are not limited
        # join attempts: one a minute
        ok(await joiner.join(s["join_code"]))
        response = await joiner.join(s["join_code"])
        problem(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1
        problem(await joiner.join("ZZZZ9999"), 429, "rate_limited")  # wrong codes count too
    finally:
        await host.client.aclose()
        await joiner.client.aclose()


async def test_wrong_join_codes_are_limited_per_address_not_per_account(
    start_server: Callable[..., LiveServer],
) -> None:
    """Before: the join limit was per user, so 50 accounts from one address guessed 50 times
    as fast. Now the address has 5 wrong codes a minute, whichever accounts send them."""
    server = start_server(
        rate_limit_joins_per_minute=1_000_000, rate_limit_wrong_codes_per_address_per_minute=5
    )
    host = new_actor(server, "host")
    guessers = [new_actor(server, f"guesser{n}") for n in range(8)]
    try:
        ok(await host.create())
        statuses = [(await g.join("ZZZZ9999")).status_code for g in guessers]
        assert statuses == [404] * 5 + [429] * 3, statuses
        response = await guessers[0].join("ZZZZ9998")
        problem(response, 429, "rate_limited")
        assert 1 <= int(response.headers["retry-after"]) <= 60  # until the minute's window ends
        # right codes cost nothing: six guests join from one address, and the address still
        # has its whole budget of 2 wrong codes
        fresh = start_server(
            rate_limit_joins_per_minute=1_000_000, rate_limit_wrong_codes_per_address_per_minute=2
        )
        fresh_host = new_actor(fresh, "host2")
        guests = [new_actor(fresh, f"guest{n}") for n in range(6)]
        fresh_code = ok(await fresh_host.create())["session"]["join_code"]
        for guest in guests:
            ok(await guest.join(fresh_code))
        assert (await guests[0].join("ZZZZ9999")).status_code == 404  # the budget is whole
        assert (await guests[1].join("ZZZZ9999")).status_code == 404
        assert (await guests[2].join("ZZZZ9999")).status_code == 429
        for actor_ in (fresh_host, *guests):
            await actor_.client.aclose()
    finally:
        for actor_ in (host, *guessers):
            await actor_.client.aclose()


async def test_request_ids_and_json_logs(actor: Any) -> None:
    a = await actor("a")
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("queueit")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        mine = await a.current()
        assert mine.headers["x-request-id"]
        echoed = await a.client.get(
            "/api/v1/sessions/current", headers={"X-Request-ID": "trace-42.a_b"}
        )
        assert echoed.headers["x-request-id"] == "trace-42.a_b"
        replaced = await a.client.get(
            "/api/v1/sessions/current", headers={"X-Request-ID": "bad id!"}
        )
        assert replaced.headers["x-request-id"] not in ("bad id!", "")
        created = await a.create()
        await asyncio.sleep(0.2)  # the access log line is written as the response ends
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [json.loads(line) for line in captured.getvalue().splitlines() if line.strip()]
    assert lines and all("request_id" in line for line in lines)
    access = {line["request_id"]: line for line in lines if line["logger"] == "queueit.access"}
    for response in (mine, echoed, replaced, created):
        rid = response.headers["x-request-id"]
        assert access[rid]["status"] == response.status_code
        assert access[rid]["path"] == "/api/v1/sessions/" + (
            "create" if response is created else "current"
        )
        assert access[rid]["user_id"] == str(a.id)  # who asked, in every access line
    assert "trace-42.a_b" in access


# --- the database going away and coming back ----------------------------------------------------


@pytest.fixture
def own_database() -> Iterator[tuple[str, PostgresServer]]:
    """A separate embedded PostgreSQL this test may stop and start."""
    root = Path(tempfile.mkdtemp(prefix="queueit-pg-api-"))
    dsn = start_embedded(root / "data")
    server = get_server(root / "data" / "postgres")
    yield dsn, server
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


def stop_postgres(server: PostgresServer) -> None:
    pg_commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


async def test_database_down_is_503_then_recovers(
    own_database: tuple[str, PostgresServer], start_server: Callable[..., LiveServer]
) -> None:
    dsn, pg = own_database
    await apply(dsn)
    live = start_server(dsn=dsn)
    host = new_actor(live, "host")
    try:
        s = ok(await host.create())["session"]
        await asyncio.to_thread(stop_postgres, pg)
        for request in (host.current(), host.add(track()), host.join(s["join_code"])):
            response = await request
            problem(response, 503, "service_unavailable")
            assert int(response.headers["retry-after"]) >= 1
        health = await host.client.get("/healthz")
        problem(health, 503, "unhealthy")

        await asyncio.to_thread(pg.ensure_postgres_running)
        # no restart of the service: the next requests work again
        assert ok(await host.current())["session"]["id"] == s["id"]
        ok(await host.add(track()))
        ok(await host.client.get("/healthz"))
    finally:
        await host.client.aclose()
