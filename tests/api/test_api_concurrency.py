"""Concurrency over real sockets: exact totals and counts, and the add-the-same-track race."""

from __future__ import annotations

import asyncio
from typing import Any

from apikit import events_of, ok, track

from queueit.db import Database


async def test_fifty_simultaneous_votes_give_the_exact_total(actor: Any, db: Database) -> None:
    host = await actor("host")
    s = ok(await host.create())["session"]
    voters = [await actor(f"v{i}") for i in range(50)]
    # 50 simultaneous joins: every member_joined event has its own exact member count
    await asyncio.gather(*(v.join(s["join_code"]) for v in voters))
    joins = [e for e in await events_of(db, s["id"]) if e.type == "member_joined"]
    assert sorted(e.data.member_count for e in joins) == list(range(1, 52))
    assert joins[-1].data.member_count == 51

    entry = ok(await host.add(track()))["id"]
    seq = (await events_of(db, s["id"]))[-1].seq
    responses = await asyncio.gather(*(v.vote(entry, 1) for v in voters))
    totals = [ok(r)["total_votes"] for r in responses]
    assert max(totals) == 51 and len(set(totals)) == 50  # every vote saw its own new total
    state = ok(await host.current())
    assert state["queue"][0]["votes"] == 51
    events = await events_of(db, s["id"], after=seq)
    assert len(events) == 50 and all(e.type == "votes_updated" for e in events)
    # in seq order the totals only grow, and the last event holds the true total
    assert [e.data.total_votes for e in events] == list(range(2, 52))

    # and back down, all at once: half withdraw, half turn to -1
    responses = await asyncio.gather(
        *(v.vote(entry, 0 if i % 2 else -1) for i, v in enumerate(voters))
    )
    assert all(r.status_code == 200 for r in responses)
    assert ok(await host.current())["queue"][0]["votes"] == 1 - 25
    assert (await events_of(db, s["id"]))[-1].data.total_votes == -24


async def test_two_simultaneous_adds_of_one_track(actor: Any, db: Database) -> None:
    host = await actor("host")
    s = ok(await host.create())["session"]
    a, b = await actor("a"), await actor("b")
    ok(await a.join(s["join_code"]))
    ok(await b.join(s["join_code"]))
    for _ in range(10):  # the race is not won the same way every time: run it several times
        song = track()
        first, second = await asyncio.gather(a.add(song), b.add(song))
        one, two = ok(first), ok(second)
        assert one["id"] == two["id"]
        assert max(one["votes"], two["votes"]) == 2
    state = ok(await host.current())
    assert len(state["queue"]) == 10 and all(e["votes"] == 2 for e in state["queue"])
    events = await events_of(db, s["id"])
    assert sum(e.type == "song_added" for e in events) == 10
    assert sum(e.type == "votes_updated" for e in events) == 10


async def test_concurrent_skip_votes_skip_once(actor: Any, db: Database) -> None:
    host = await actor("host")
    s = ok(await host.create())["session"]
    guests = [await actor(f"g{i}") for i in range(9)]
    for g in guests:
        ok(await g.join(s["join_code"]))
    first = ok(await host.add(track()))["id"]
    second = ok(await host.add(track()))["id"]
    ok(await host.control("play"))
    responses = await asyncio.gather(*(g.skip_vote(s["id"]) for g in guests))
    # votes that arrive once the track was skipped are refused: they never count against the
    # next track
    late = [r for r in responses if r.status_code == 409]
    assert all(r.json()["code"] == "nothing_playing" for r in late)
    results = [ok(r) for r in responses if r.status_code != 409]
    assert sum(r["skipped"] for r in results) == 1  # 5 of 10 needed: exactly one vote skips
    skipping = next(r for r in results if r["skipped"])
    assert skipping["skip_votes"] == 5 and skipping["queued_song_id"] == first
    state = ok(await host.current())
    assert state["playback"]["current"]["id"] == second
    assert state["playback"]["skip_votes"] == 0
    events = await events_of(db, s["id"])
    assert sum(e.type == "playback_changed" and e.data.action.value == "skip" for e in events) == 1


async def test_next_naming_its_entry_advances_once(actor: Any, db: Database) -> None:
    """Before: a call could not say which track it meant; 4 concurrent `next` calls moved 4
    tracks to history, and a retried one skipped a song nobody skipped."""
    host = await actor("host")
    s = ok(await host.create())["session"]
    co = await actor("co")
    ok(await co.join(s["join_code"]))
    ok(
        await host.client.put(
            f"/api/v1/sessions/{s['id']}/members/{co.id}/role", json={"role": "cohost"}
        )
    )
    entries = [ok(await host.add(track(name=f"t{i}")))["id"] for i in range(6)]
    ok(await host.control("play"))
    playing = ok(await host.current())["playback"]["current_entry"]["id"]
    assert playing == entries[0]

    def control(who: Any, action: str, entry: str) -> Any:
        return who.client.patch(
            "/api/v1/sessions/control_session", json={"action": action, "entry_id": entry}
        )

    # four devices send `next` for the same track at once: it advances once
    seq = (await events_of(db, s["id"]))[-1].seq
    answers = await asyncio.gather(*(control(w, "next", playing) for w in (host, co, host, co)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 409, 409, 409], [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["code"] == "not_current_entry"
    state = ok(await host.current())
    assert state["playback"]["current_entry"]["id"] == entries[1]
    assert [e["id"] for e in state["queue"]] == entries[2:]
    changes = [e for e in await events_of(db, s["id"], after=seq) if e.type == "playback_changed"]
    assert len(changes) == 1

    # a retry of a call that went through changes nothing
    retry = await control(host, "skip", playing)
    assert retry.status_code == 409 and retry.json()["code"] == "not_current_entry"
    assert ok(await host.current())["playback"]["current_entry"]["id"] == entries[1]
    # naming the playing one works; no entry at all keeps the 1.0 behaviour
    ok(await control(host, "skip", entries[1]))
    ok(await host.control("next"))
    assert ok(await host.current())["playback"]["current_entry"]["id"] == entries[3]
