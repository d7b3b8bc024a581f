"""Sessions through the real server: create, join, current, leave, playback, skip votes, history,
the idle reaper. Events are read back from the log and checked against the contract."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from apikit import LiveServer, events_of, ok, problem, track, types

from queueit.db import Database
from queueit.sessions.idle import reap_once

GENERATED_CODE = re.compile(r"^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$")


def code() -> str:
    return "Q" + secrets.token_hex(4).upper()


async def test_create_join_add_vote_flow(actor: Any, db: Database) -> None:
    maya, leo = await actor("maya"), await actor("leo")
    created = ok(await maya.create())
    session = created["session"]
    assert GENERATED_CODE.match(session["join_code"])
    assert created["my_role"] == "host" and created["queue"] == [] and created["seq"] == 1
    assert session["status"] == "active" and session["ended_at"] is None
    assert session["host"]["id"] == str(maya.id) and session["member_count"] == 1
    assert session["host"]["email"] == f"{maya.name}@queueit.local"  # your own email
    assert created["playback"] == {
        "state": "stopped",
        "current": None,
        "started_at": None,
        "skip_votes": 0,
        "skip_votes_needed": 2,
    }

    joined = ok(await leo.join(session["join_code"].lower()))  # codes are case-insensitive
    assert joined["session"]["id"] == session["id"] and joined["my_role"] == "guest"
    assert joined["session"]["member_count"] == 2
    assert joined["session"]["host"]["email"] is None  # other members' emails are not shown

    song = ok(await leo.add(track(name="Paper Satellites")))
    assert song["votes"] == 1 and song["status"] == "queued"
    assert song["added_by"]["id"] == str(leo.id)
    assert song["added_by"]["email"] == f"{leo.name}@queueit.local"

    voted = ok(await maya.vote(song["id"], 1))
    assert voted == {"queued_song_id": song["id"], "total_votes": 2, "vote_value": 1}

    state = ok(await leo.current())
    assert [e["id"] for e in state["queue"]] == [song["id"]]
    assert state["queue"][0]["votes"] == 2 and state["my_votes"] == {song["id"]: 1}

    events = await events_of(db, session["id"])
    assert types(events) == ["member_joined", "member_joined", "song_added", "votes_updated"]
    assert events[0].data.member.role.value == "host" and events[0].data.member_count == 1
    assert events[1].data.member.user.id == leo.id and events[1].data.member_count == 2
    assert events[2].data.queued_song.votes == 1
    assert events[3].data.total_votes == 2
    # events go to everyone: no email in them
    assert events[1].data.member.user.email is None
    assert events[2].data.queued_song.added_by.email is None
    assert state["seq"] == events[-1].seq


async def test_the_session_state_carries_its_members(actor: Any) -> None:
    """Before: the snapshot had no member list; every app refetched GET members after it."""
    host = await actor("host")
    s = ok(await host.create())["session"]
    guests = [await actor(f"g{i}") for i in range(2)]
    for guest in guests:
        ok(await guest.join(s["join_code"]))
    listed = ok(await host.client.get(f"/api/v1/sessions/{s['id']}/members"))["members"]
    for who in (host, *guests):
        state = ok(await who.current())
        assert [m["user"]["id"] for m in state["members"]] == [m["user"]["id"] for m in listed]
        assert [m["role"] for m in state["members"]] == ["host", "guest", "guest"]
        assert len(state["members"]) == state["session"]["member_count"]
        emails = {m["user"]["id"]: m["user"]["email"] for m in state["members"]}
        assert [i for i, e in emails.items() if e is not None] == [str(who.id)]  # own only


async def test_chosen_code_and_conflict(actor: Any, db: Database) -> None:
    a, b = await actor("a"), await actor("b")
    chosen = code()
    created = ok(await a.create(join_code=chosen.lower()))
    assert created["session"]["join_code"] == chosen
    problem(await b.create(join_code=chosen), 409, "join_code_taken")
    problem(await b.current(), 404, "not_in_session")  # nothing was created for b
    # the code is free again once the session ended
    ok(await a.control("end"))
    again = ok(await b.create(join_code=chosen))
    assert again["session"]["join_code"] == chosen


async def test_create_with_settings(actor: Any) -> None:
    a = await actor("a")
    created = ok(await a.create(settings={"allow_downvotes": False, "max_queued_per_user": 3}))
    assert created["settings"]["allow_downvotes"] is False
    assert created["settings"]["max_queued_per_user"] == 3
    problem(await a.create(settings={"queue_locked": None}), 422, "validation_failed")
    # the body is optional
    bare = ok(await a.client.post("/api/v1/sessions/create"))
    assert bare["settings"]["max_queued_per_user"] == 10 and bare["my_role"] == "host"


async def test_join_unknown_code_and_noop_join(actor: Any, db: Database) -> None:
    a, b = await actor("a"), await actor("b")
    problem(await b.join("ZZZZ9999"), 404, "session_not_found")
    created = ok(await a.create())
    sid, join_code = created["session"]["id"], created["session"]["join_code"]
    ok(await b.join(join_code))
    before = await events_of(db, sid)
    again = ok(await b.join(join_code))  # already there: answers the state, changes nothing
    assert again["session"]["id"] == sid and again["seq"] == before[-1].seq
    assert len(await events_of(db, sid)) == len(before)
    host_again = ok(await a.join(join_code))
    assert host_again["my_role"] == "host"


async def test_join_leaves_the_previous_session(actor: Any, db: Database) -> None:
    h1, h2, g = await actor("h1"), await actor("h2"), await actor("g")
    s1 = ok(await h1.create())["session"]
    s2 = ok(await h2.create())["session"]
    ok(await g.join(s1["join_code"]))
    moved = ok(await g.join(s2["join_code"]))
    assert moved["session"]["id"] == s2["id"]
    old = await events_of(db, s1["id"])
    assert types(old) == ["member_joined", "member_joined", "member_left"]
    assert old[-1].data.user_id == g.id and old[-1].data.member_count == 1
    assert old[-1].data.new_host_id is None
    new = await events_of(db, s2["id"])
    assert types(new) == ["member_joined", "member_joined"] and new[-1].data.member_count == 2
    assert ok(await h1.current())["session"]["member_count"] == 1

    # a host who creates another session leaves the first: h1 was alone, so it ends (empty)
    ok(await h1.create())
    old = await events_of(db, s1["id"])
    assert types(old)[-2:] == ["member_left", "session_ended"]
    assert old[-1].data.reason.value == "empty"


async def test_leaving_host_hands_over(actor: Any, db: Database) -> None:
    host, first, second, co = (
        await actor("host"),
        await actor("g1"),
        await actor("g2"),
        await actor("co"),
    )
    s = ok(await host.create())["session"]
    for person in (first, second, co):
        ok(await person.join(s["join_code"]))
    ok(
        await host.client.put(
            f"/api/v1/sessions/{s['id']}/members/{co.id}/role", json={"role": "cohost"}
        )
    )
    left = ok(await host.leave())
    assert left == {"session_id": s["id"], "session_ended": False}
    # the co-host wins over guests who joined earlier
    state = ok(await co.current())
    assert state["my_role"] == "host" and state["session"]["host"]["id"] == str(co.id)
    assert state["session"]["member_count"] == 3
    last = (await events_of(db, s["id"]))[-1]
    assert last.type == "member_left" and last.data.new_host_id == co.id
    assert last.data.member_count == 3
    problem(await host.current(), 404, "not_in_session")

    # no co-host: the longest-standing guest
    ok(await co.leave())
    state = ok(await first.current())
    assert state["my_role"] == "host"
    ok(await first.leave())
    assert ok(await second.current())["my_role"] == "host"
    # the last one out ends it
    assert ok(await second.leave()) == {"session_id": s["id"], "session_ended": True}
    events = await events_of(db, s["id"])
    assert types(events)[-2:] == ["member_left", "session_ended"]
    assert events[-1].data.reason.value == "empty" and events[-2].data.member_count == 0
    problem(await host.join(s["join_code"]), 404, "session_not_found")
    problem(await second.leave(), 404, "not_in_session")


async def test_playback_state_machine_and_history(actor: Any, db: Database) -> None:
    host, co, guest = await actor("host"), await actor("co"), await actor("guest")
    s = ok(await host.create())["session"]
    ok(await co.join(s["join_code"]))
    ok(await guest.join(s["join_code"]))
    ok(
        await host.client.put(
            f"/api/v1/sessions/{s['id']}/members/{co.id}/role", json={"role": "cohost"}
        )
    )
    problem(await host.control("skip"), 409, "nothing_playing")
    idle = ok(await host.control("play"))  # empty queue: nothing to play, nothing changes
    assert idle["playback"]["state"] == "stopped"

    low = ok(await guest.add(track(name="low")))
    high = ok(await guest.add(track(name="high")))
    ok(await host.vote(high["id"], 1))  # high: 2 votes, low: 1 -> high plays first
    seq_before = (await events_of(db, s["id"]))[-1].seq

    playing = ok(await host.control("play"))
    assert playing["playback"]["state"] == "playing"
    assert playing["playback"]["current"]["id"] == high["id"]
    assert playing["playback"]["current"]["status"] == "playing"
    # `current_entry`: the portable name of the deprecated `current` (tools/portable.py)
    assert playing["playback"]["current_entry"] == playing["playback"]["current"]
    assert [e["id"] for e in playing["queue"]] == [low["id"]]
    paused = ok(await co.control("pause"))  # co-hosts control playback too
    assert paused["playback"]["state"] == "paused"
    resumed = ok(await co.control("play"))
    assert resumed["playback"]["state"] == "playing"
    problem(await guest.control("pause"), 403, "not_moderator")
    problem(await guest.control("end"), 403, "not_moderator")

    nxt = ok(await host.control("next"))  # the track ended
    assert nxt["playback"]["current"]["id"] == low["id"] and nxt["queue"] == []
    skipped = ok(await host.control("skip"))
    assert skipped["playback"] == {
        "state": "stopped",
        "current": None,
        "started_at": None,
        "skip_votes": 0,
        "skip_votes_needed": 2,
    }
    events = await events_of(db, s["id"], after=seq_before)
    assert types(events) == ["playback_changed"] * 5
    # the stored payloads: `finished_entry` only where something finished, never null
    raw = [e.data.model_dump(mode="json") for e in events]
    assert ["finished_entry" in r for r in raw] == [False, False, False, True, True]
    assert all(r["finished_entry"] == r["finished"] for r in raw[3:])
    assert [("current_entry" in r["playback"]) for r in raw] == [True, True, True, True, False]
    assert [e.data.action.value for e in events] == ["play", "pause", "play", "next", "skip"]
    first_play = events[0].data
    assert first_play.finished_entry is None
    assert first_play.playback.current_entry.id == uuid.UUID(high["id"])
    assert events[3].data.finished_entry.id == uuid.UUID(high["id"])
    assert events[3].data.finished_entry.status.value == "played"
    assert events[4].data.finished_entry.status.value == "skipped"

    history = ok(await guest.client.get(f"/api/v1/sessions/{s['id']}/history"))["history"]
    assert [(h["id"], h["status"]) for h in history] == [
        (low["id"], "skipped"),
        (high["id"], "played"),
    ]
    assert all(h["finished_at"] for h in history)
    one = ok(await guest.client.get(f"/api/v1/sessions/{s['id']}/history", params={"limit": 1}))
    assert len(one["history"]) == 1
    problem(
        await guest.client.get(f"/api/v1/sessions/{s['id']}/history", params={"limit": 0}),
        422,
        "validation_failed",
    )

    ended = ok(await co.control("end"))
    assert ended["session"]["status"] == "ended" and ended["session"]["ended_at"]
    assert ended["session"]["member_count"] == 0 and ended["playback"]["state"] == "stopped"
    last = (await events_of(db, s["id"]))[-1]
    assert last.type == "session_ended" and last.data.reason.value == "host_ended"
    assert ended["seq"] == last.seq
    for person in (host, co, guest):
        problem(await person.current(), 404, "not_in_session")
    problem(await guest.client.get(f"/api/v1/sessions/{s['id']}/history"), 409, "session_ended")


async def test_vote_to_skip(actor: Any, db: Database) -> None:
    host = await actor("host")
    guests = [await actor(f"g{i}") for i in range(4)]
    s = ok(await host.create())["session"]
    for g in guests:
        ok(await g.join(s["join_code"]))
    problem(await guests[0].skip_vote(s["id"]), 409, "nothing_playing")
    first = ok(await guests[0].add(track()))
    second = ok(await guests[1].add(track()))
    ok(await host.control("play"))
    seq = (await events_of(db, s["id"]))[-1].seq

    # 5 members, share 0.5 -> ceil(2.5) = 3 votes needed
    r1 = ok(await guests[0].skip_vote(s["id"]))
    assert r1 == {
        "queued_song_id": first["id"],
        "skip_votes": 1,
        "skip_votes_needed": 3,
        "skipped": False,
    }
    assert ok(await guests[0].skip_vote(s["id"]))["skip_votes"] == 1  # once per member
    assert ok(await guests[1].skip_vote(s["id"]))["skip_votes"] == 2
    assert ok(await guests[1].current())["playback"]["skip_votes"] == 2
    r3 = ok(await guests[2].skip_vote(s["id"]))
    assert r3["skipped"] is True and r3["skip_votes"] == 3

    state = ok(await host.current())
    assert state["playback"]["current"]["id"] == second["id"]
    assert state["playback"]["skip_votes"] == 0
    events = await events_of(db, s["id"], after=seq)
    assert types(events) == [
        "skip_votes_updated",
        "skip_votes_updated",
        "skip_votes_updated",
        "playback_changed",
    ]
    assert [e.data.skip_votes for e in events[:3]] == [1, 2, 3]
    assert events[3].data.action.value == "skip"
    assert events[3].data.finished_entry.id == uuid.UUID(first["id"])
    outsider = await actor("outsider")
    problem(await outsider.skip_vote(s["id"]), 403, "not_member")
    problem(await outsider.skip_vote(uuid.uuid4()), 404, "session_not_found")


async def test_idle_sessions_are_warned_then_ended(
    actor: Any, api: LiveServer, db: Database
) -> None:
    host, guest = await actor("host"), await actor("guest")
    s = ok(await host.create())["session"]
    ok(await guest.join(s["join_code"]))
    async with db.system_conn() as conn:
        await conn.execute(
            "update queueit.sessions set last_activity_at = now() - interval '239 minutes' where"
            " id = $1",
            uuid.UUID(s["id"]),
        )
    # the service runs the reaper in the background; here one round is run by hand
    assert any(t.get_name() == "idle-reaper" and not t.done() for t in api.runtime.tasks)
    settings = api.settings
    published: list[tuple[uuid.UUID, int]] = []

    async def publish(session_id: uuid.UUID, seq: int) -> None:
        published.append((session_id, seq))

    sid = uuid.UUID(s["id"])
    # (every live server runs a reaper on this database too: whoever gets there first writes the
    # event, so the log is what is checked)
    done = await reap_once(db, settings, publish)
    warning = (await events_of(db, s["id"]))[-1]
    assert warning.type == "session_ending" and warning.data.reason == "idle"
    assert warning.data.ends_at > warning.created_at
    if (sid, "warned") in done:
        assert (sid, warning.seq) in published  # published like a request's events
    assert (sid, "ended") not in done  # a warning always comes first
    assert ok(await host.current())["session"]["status"] == "active"

    # activity cancels the warning
    ok(await guest.add(track()))
    async with db.system_conn() as conn:
        assert (
            await conn.fetchval(
                "select idle_warning_sent_at from queueit.sessions where id = $1", sid
            )
            is None
        )
        # idle past the limit, with a warning old enough: it ends
        await conn.execute(
            "update queueit.sessions set last_activity_at = now() - interval '5 hours',"
            " idle_warning_sent_at = now() - interval '11 minutes' where id = $1",
            sid,
        )
    await reap_once(db, settings, publish)
    last = (await events_of(db, s["id"]))[-1]
    assert last.type == "session_ended" and last.data.reason.value == "idle"
    problem(await guest.current(), 404, "not_in_session")
