"""Who may connect: the three ways to authenticate, and the refusal close codes."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
import rt_data as data
from rt_app import build_app
from rt_client import RtClient
from rt_data import RtUser
from rt_server import RtServer, serve_in_process

from queueit.config import Settings
from queueit.db import Database
from queueit.realtime.logs import redact

UserFactory = Callable[[str], Awaitable[RtUser]]


@pytest.mark.parametrize("via", ["header", "query", "frame"])
async def test_authenticates_by_header_query_or_first_frame(
    db: Database, server: RtServer, user: UserFactory, via: str
) -> None:
    host = await user("host")
    sid = await data.create_session(db, host)
    client = await RtClient.open(server.url, sid, token=host.token, via=via)
    snapshot = await client.next()
    assert snapshot["type"] == "snapshot"
    assert snapshot["data"]["my_role"] == "host"
    await client.close()


async def test_bad_or_missing_token_closes_4001(
    db: Database, start_server: Callable[..., Awaitable[RtServer]], user: UserFactory
) -> None:
    server = await start_server(hub_options={"auth_timeout": 0.5})
    host = await user("host")
    sid = await data.create_session(db, host)

    client = await RtClient.open(server.url, sid, token=host.token[:-4] + "AAAA")
    assert (await client.closed_with())[0] == 4001

    client = await RtClient.open(server.url, sid, token="not-a-jwt", via="frame")
    assert (await client.closed_with())[0] == 4001

    # nothing sent within the auth timeout
    client = await RtClient.open(server.url, sid)
    assert (await client.closed_with())[0] == 4001

    # a first frame that is not `auth`: told why, then closed
    client = await RtClient.open(server.url, sid)
    await client.send({"type": "ping"})
    code, before = await client.closed_with()
    assert code == 4001
    assert [m["type"] for m in before] == ["error"]
    assert before[0]["code"] == "invalid_message"

    client = await RtClient.open(server.url, sid)
    await client.send_raw("{not json")
    code, before = await client.closed_with()
    assert code == 4001 and before[0]["code"] == "malformed_message"

    # a malformed Authorization header
    from websockets.asyncio.client import connect

    ws = await connect(
        f"{server.url}/api/v1/sessions/{sid}/realtime",
        additional_headers={"Authorization": "Basic abc"},
        compression=None,
    )
    client = RtClient(ws)
    assert (await client.closed_with())[0] == 4001


async def test_refusals_tell_why(db: Database, server: RtServer, user: UserFactory) -> None:
    host, outsider, banned = await user("host"), await user("outsider"), await user("banned")
    sid = await data.create_session(db, host, [banned])
    await data.kick(db, host, sid, banned, banned=True, count=1)

    async def code_for(token: str, session: object) -> int | None:
        client = await RtClient.open(server.url, session, token=token)
        code, before = await client.closed_with()
        assert before == []  # nothing of the session leaks before the close
        return code

    assert await code_for(outsider.token, sid) == 4003
    assert await code_for(banned.token, sid) == 4011
    assert await code_for(outsider.token, uuid.uuid4()) == 4004
    assert await code_for(outsider.token, "not-a-uuid") == 4004

    other_host = await user("other")
    ended = await data.create_session(db, other_host)
    await data.end_session(db, other_host, ended)
    assert await code_for(other_host.token, ended) == 4013


async def test_a_banned_user_cannot_poll_either(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    host, banned = await user("host"), await user("banned")
    sid = await data.create_session(db, host, [banned])
    await data.kick(db, host, sid, banned, banned=True, count=1)
    async with server.http() as http:
        response = await http.get(
            f"/api/v1/sessions/{sid}/events",
            headers={"Authorization": f"Bearer {banned.token}"},
        )
    assert response.status_code == 403
    assert response.json()["code"] == "banned"


async def test_the_optional_shortcut_middleware_serves_the_same_socket(
    db: Database, start_server: Callable[..., Awaitable[RtServer]], user: UserFactory
) -> None:
    server = await start_server(shortcut=True)
    host, outsider = await user("host"), await user("outsider")
    sid = await data.create_session(db, host)
    client = await RtClient.open(server.url, sid, token=host.token, via="query")
    assert (await client.next())["type"] == "snapshot"
    seq = await data.append(db, host, sid, "votes_updated", data.votes_data(1))
    server.hub.publish(sid, seq)
    assert (await client.next())["seq"] == seq
    await client.close()
    refused = await RtClient.open(server.url, sid, token=outsider.token)
    assert (await refused.closed_with())[0] == 4003
    async with server.http() as http:  # everything else still goes through the app
        response = await http.get(
            f"/api/v1/sessions/{sid}/events", headers={"Authorization": f"Bearer {host.token}"}
        )
    assert response.status_code == 200


async def test_database_down_closes_1011_and_polling_answers_503(
    settings: Settings, user: UserFactory, db: Database
) -> None:
    """The hub starts without a database and sockets are told to come back (1011)."""
    member = await user("member")
    down = Database("postgresql://nobody@127.0.0.1:1/none", connect_timeout=0.5)
    app = build_app(settings, db=down)
    await down.start()
    server, task, port = await serve_in_process(app, settings)
    try:
        client = await RtClient.open(f"ws://127.0.0.1:{port}", uuid.uuid4(), token=member.token)
        assert (await client.closed_with())[0] == 1011
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            response = await http.get(
                f"/api/v1/sessions/{uuid.uuid4()}/events",
                headers={"Authorization": f"Bearer {member.token}"},
            )
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        await down.close()


async def test_query_tokens_never_reach_the_log(
    db: Database, settings: Settings, user: UserFactory, caplog: pytest.LogCaptureFixture
) -> None:
    host = await user("host")
    sid = await data.create_session(db, host)
    app = build_app(settings, db=db)
    server, task, port = await serve_in_process(app, settings, log_level="info")
    try:
        with caplog.at_level(logging.INFO):
            client = await RtClient.open(
                f"ws://127.0.0.1:{port}", sid, token=host.token, via="query"
            )
            assert (await client.next())["type"] == "snapshot"
            await client.close()
        accepted = [r.getMessage() for r in caplog.records if "[accepted]" in r.getMessage()]
        assert accepted and all("access_token=[redacted]" in m for m in accepted)
        assert host.token not in caplog.text
        assert host.token.split(".")[2] not in caplog.text
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


def test_redaction_keeps_the_rest_of_the_line() -> None:
    line = '/api/v1/sessions/x/realtime?since=4&access_token=abc.def.ghi" [accepted]'
    assert redact(line) == '/api/v1/sessions/x/realtime?since=4&access_token=[redacted]" [accepted]'
    assert redact("/no/query") == "/no/query"
    assert redact("/p?access%5Ftoken=abc&x=1") == "/p?access_token=[redacted]&x=1"
