"""The queue through the real server: adds (and re-adds as upvotes), votes, order, the session's
rules, removal."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from apikit import Actor, events_of, ok, problem, track, types

from queueit.db import Database

CATALOG = Path(__file__).resolve().parents[2] / "src/queueit/data/catalog.json"


def catalog_track(explicit: bool) -> dict[str, Any]:
    tracks = json.loads(CATALOG.read_text())["tracks"]
    found = next(t for t in tracks if t["explicit"] is explicit)
    return {k: v for k, v in found.items() if k != "popularity"}


async def party(
    actor: Any, guests: int = 2, **create: Any
) -> tuple[dict[str, Any], Actor, list[Actor]]:
    host = await actor("host")
    session = ok(await host.create(**create))["session"]
    people = []
    for i in range(guests):
        person = await actor(f"guest{i}")
        ok(await person.join(session["join_code"]))
        people.append(person)
    return session, host, people


async def test_adding_a_queued_track_is_an_upvote(actor: Any, db: Database) -> None:
    s, host, (a, b) = await party(actor)
    song = track()
    first = ok(await a.add(song))
    seq = (await events_of(db, s["id"]))[-1].seq
    again = ok(await b.add(song))
    assert again["id"] == first["id"] and again["votes"] == 2
    assert again["added_by"]["id"] == str(a.id) and again["added_by"]["email"] is None
    events = await events_of(db, s["id"], after=seq)
    assert types(events) == ["votes_updated"] and events[0].data.total_votes == 2
    # the adder re-adding changes nothing (their vote is already +1)
    assert ok(await a.add(song))["votes"] == 2
    assert len(await events_of(db, s["id"], after=seq)) == 1
    state = ok(await host.current())
    assert [e["id"] for e in state["queue"]] == [first["id"]]


async def test_votes_are_exact_and_replaceable(actor: Any, db: Database) -> None:
    s, host, (a, b) = await party(actor)
    entry = ok(await a.add(track()))["id"]
    assert ok(await b.vote(entry, -1))["total_votes"] == 0
    assert ok(await host.vote(entry, -1))["total_votes"] == -1
    assert ok(await b.vote(entry, 1))["total_votes"] == 1  # replaces b's -1
    assert ok(await b.vote(entry, 1))["total_votes"] == 1  # same vote again: no change
    withdrawn = ok(await a.vote(entry, 0))
    assert withdrawn == {"queued_song_id": entry, "total_votes": 0, "vote_value": 0}
    assert ok(await a.vote(entry, 0))["total_votes"] == 0
    assert ok(await a.current())["my_votes"] == {}
    assert ok(await host.current())["my_votes"] == {entry: -1}
    events = await events_of(db, s["id"])
    totals = [e.data.total_votes for e in events if e.type == "votes_updated"]
    assert totals == [0, -1, 1, 0]  # one event per change, none for no-ops
    async with db.system_conn() as conn:
        stored = await conn.fetchval(
            "select coalesce(sum(value), 0) from queueit.votes where entry_id = $1",
            uuid.UUID(entry),
        )
    assert stored == 0
    for bad in (2, -2, "1", None, 1.5):
        problem(
            await a.client.post(f"/api/v1/songs/{entry}/vote", json={"vote_value": bad}),
            422,
            "validation_failed",
        )


async def test_queue_is_in_play_order(actor: Any) -> None:
    _s, host, (a, b) = await party(actor)
    first = ok(await a.add(track(name="first")))["id"]
    second = ok(await a.add(track(name="second")))["id"]
    third = ok(await b.add(track(name="third")))["id"]
    ok(await host.vote(third, 1))  # third: 2
    ok(await b.vote(first, -1))  # first: 0, second: 1
    order = [e["id"] for e in ok(await host.current())["queue"]]
    assert order == [third, second, first]
    ok(await b.vote(first, 1))
    ok(await host.vote(first, 1))  # first: 3
    ok(await host.vote(second, 1))
    ok(await b.vote(second, 1))  # second: 3, added after first: first wins the tie
    state = ok(await host.current())
    assert [e["id"] for e in state["queue"]] == [first, second, third]
    assert [e["votes"] for e in state["queue"]] == [3, 3, 2]


async def test_play_order_can_be_reproduced_from_the_wire(actor: Any) -> None:
    """Songs added within one second, tied in votes: sorting what the wire says by the spec's
    rule (votes desc, then added_seq asc) gives the server's queue, and `play` plays its head.
    Before: `added_at` in whole seconds could not order them (10 of 12 positions differed)."""
    _s, host, (a, b) = await party(actor)
    added = []
    for i in range(12):
        adder = (a, b, host)[i % 3]
        added.append(ok(await adder.add(track(name=f"song {i}")))["id"])
    state = ok(await host.current())
    queue = state["queue"]
    assert {e["id"] for e in queue} == set(added)
    assert [e["id"] for e in queue] == added  # all tied at 1 vote: in the order added
    by_rule = sorted(queue, key=lambda e: (-e["votes"], e["added_seq"]))
    assert [e["id"] for e in by_rule] == [e["id"] for e in queue]
    ok(await host.vote(added[7], 1))  # 2 votes: first now
    queue = ok(await host.current())["queue"]
    assert [e["id"] for e in sorted(queue, key=lambda e: (-e["votes"], e["added_seq"]))] == [
        e["id"] for e in queue
    ]
    assert queue[0]["id"] == added[7]
    ok(await host.control("play"))
    playing = ok(await host.current())["playback"]
    assert playing["current_entry"]["id"] == added[7]
    ok(await host.control("next"))
    assert ok(await host.current())["playback"]["current_entry"]["id"] == added[0]


async def test_per_user_cap(actor: Any) -> None:
    s, host, (a, b) = await party(actor, settings={"max_queued_per_user": 2})
    one = ok(await a.add(track()))
    ok(await a.add(track()))
    problem(await a.add(track()), 409, "queue_cap_reached")
    ok(await a.add(track(id=ok(await b.add(track()))["song"]["id"])))  # an upvote is not capped
    ok(await a.remove(one["id"]), 204)
    ok(await a.add(track()))
    problem(await a.add(track()), 409, "queue_cap_reached")
    ok(
        await host.client.patch(
            f"/api/v1/sessions/{s['id']}/settings", json={"max_queued_per_user": None}
        )
    )
    ok(await a.add(track()))


async def test_locked_queue(actor: Any) -> None:
    s, host, (guest, co) = await party(actor)
    ok(
        await host.client.put(
            f"/api/v1/sessions/{s['id']}/members/{co.id}/role", json={"role": "cohost"}
        )
    )
    queued = ok(await guest.add(track()))
    ok(await host.client.patch(f"/api/v1/sessions/{s['id']}/settings", json={"queue_locked": True}))
    problem(await guest.add(track()), 403, "queue_locked")
    ok(await host.add(track()))
    ok(await co.add(track()))
    # voting (and re-adding a queued track, which is a vote) stays open
    assert ok(await guest.add(queued["song"]))["votes"] == 1
    assert ok(await co.add(queued["song"]))["votes"] == 2


async def test_downvotes_toggle(actor: Any) -> None:
    s, host, (a, _) = await party(actor, settings={"allow_downvotes": False})
    entry = ok(await host.add(track()))["id"]
    problem(await a.vote(entry, -1), 403, "downvotes_disabled")
    assert ok(await a.vote(entry, 1))["total_votes"] == 2
    assert ok(await a.vote(entry, 0))["total_votes"] == 1
    ok(
        await host.client.patch(
            f"/api/v1/sessions/{s['id']}/settings", json={"allow_downvotes": True}
        )
    )
    assert ok(await a.vote(entry, -1))["total_votes"] == 0


async def test_track_length_and_explicit_rules(actor: Any) -> None:
    s, host, (a, _) = await party(
        actor, settings={"max_track_duration_ms": 200_000, "allow_explicit": False}
    )
    problem(await a.add(track(duration_ms=200_001)), 422, "track_too_long")
    ok(await a.add(track(duration_ms=200_000)))
    problem(await a.add(track(explicit=True)), 422, "explicit_not_allowed")
    # the track source's metadata wins over the body: claiming "not explicit" does not help
    known = catalog_track(explicit=True)
    problem(
        await a.add({**known, "explicit": False, "duration_ms": 1000}), 422, "explicit_not_allowed"
    )
    ok(
        await host.client.patch(
            f"/api/v1/sessions/{s['id']}/settings",
            json={"allow_explicit": True, "max_track_duration_ms": None},
        )
    )
    added = ok(await a.add({**known, "explicit": False, "name": "Renamed"}))
    assert added["song"] == known  # stored as the source says


async def test_remove_rules(actor: Any, db: Database) -> None:
    s, host, (a, b) = await party(actor)
    mine = ok(await a.add(track()))["id"]
    theirs = ok(await b.add(track()))["id"]
    problem(await a.remove(theirs), 403, "not_moderator")
    assert ok(await a.remove(mine), 204) is None
    problem(await a.remove(mine), 409, "not_queued")
    problem(await b.vote(mine, 1), 409, "not_queued")
    ok(await host.remove(theirs), 204)
    problem(await a.remove(uuid.uuid4()), 404, "song_not_found")
    events = [e for e in await events_of(db, s["id"]) if e.type == "song_removed"]
    assert [(str(e.data.queued_song_id), e.data.removed_by) for e in events] == [
        (mine, a.id),
        (theirs, host.id),
    ]
    assert ok(await host.current())["queue"] == []


async def test_playing_and_played_entries(actor: Any) -> None:
    _s, host, (a, _) = await party(actor)
    song = track()
    entry = ok(await a.add(song))["id"]
    ok(await host.control("play"))
    problem(await a.vote(entry, 1), 409, "not_queued")
    problem(await host.remove(entry), 409, "not_queued")
    # while it plays, adding it again queues a new entry (a played track may come back)
    again = ok(await a.add(song))
    assert again["id"] != entry and again["votes"] == 1


async def test_entries_of_other_sessions_are_invisible(actor: Any) -> None:
    _, _, (a,) = await party(actor, guests=1)
    _, _, (b,) = await party(actor, guests=1)
    entry = ok(await a.add(track()))["id"]
    problem(await b.vote(entry, 1), 404, "song_not_found")
    problem(await b.remove(entry), 404, "song_not_found")
    loner = await actor("loner")
    problem(await loner.vote(entry, 1), 404, "not_in_session")
    problem(await loner.add(track()), 404, "not_in_session")
