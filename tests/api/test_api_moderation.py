"""Settings, members, co-hosts, kick and ban through the real server."""

from __future__ import annotations

import uuid
from typing import Any

from apikit import Actor, events_of, ok, problem, types

from queueit.db import Database


async def party(actor: Any, guests: int = 3) -> tuple[dict[str, Any], Actor, list[Actor]]:
    host = await actor("host")
    session = ok(await host.create())["session"]
    people = []
    for i in range(guests):
        person = await actor(f"guest{i}")
        ok(await person.join(session["join_code"]))
        people.append(person)
    return session, host, people


def role_url(s: dict[str, Any], who: Actor) -> str:
    return f"/api/v1/sessions/{s['id']}/members/{who.id}/role"


async def test_settings(actor: Any, db: Database) -> None:
    s, host, (guest, co, _) = await party(actor)
    url = f"/api/v1/sessions/{s['id']}/settings"
    assert ok(await guest.client.get(url)) == {
        "queue_locked": False,
        "allow_downvotes": True,
        "max_queued_per_user": 10,
        "max_track_duration_ms": None,
        "allow_explicit": True,
        "skip_vote_share": 0.5,
        "skip_vote_min": 2,
    }
    problem(await guest.client.patch(url, json={"queue_locked": True}), 403, "not_moderator")
    ok(await host.client.put(role_url(s, co), json={"role": "cohost"}))
    seq = (await events_of(db, s["id"]))[-1].seq
    changed = ok(await co.client.patch(url, json={"queue_locked": True, "skip_vote_share": 0.4}))
    assert changed["queue_locked"] is True and changed["skip_vote_share"] == 0.4
    assert changed["allow_downvotes"] is True  # absent fields keep their value
    ok(await co.client.patch(url, json={"queue_locked": True}))  # no change: no event
    events = await events_of(db, s["id"], after=seq)
    assert types(events) == ["settings_changed"]
    assert events[0].data.settings.model_dump(mode="json") == changed
    assert ok(await guest.current())["settings"] == changed

    for bad in (
        {},
        {"queue_locked": None},
        {"skip_vote_share": 0},
        {"skip_vote_share": 1.5},
        {"max_queued_per_user": 0},
        {"max_track_duration_ms": 999},
        {"skip_vote_min": "2"},
        {"unknown": 1},
    ):
        body = problem(await host.client.patch(url, json=bad), 422, "validation_failed")
        assert body["errors"], bad
    # 3 decimals are stored; a share that would round to 0 stays above it
    assert (
        ok(await host.client.patch(url, json={"skip_vote_share": 0.0001}))["skip_vote_share"]
        == 0.001
    )


async def test_members_list(actor: Any) -> None:
    s, host, (g0, g1, g2) = await party(actor)
    ok(await host.client.put(role_url(s, g2), json={"role": "cohost"}))
    members = ok(await g0.client.get(f"/api/v1/sessions/{s['id']}/members"))["members"]
    assert [(m["user"]["id"], m["role"]) for m in members] == [
        (str(host.id), "host"),
        (str(g2.id), "cohost"),
        (str(g0.id), "guest"),
        (str(g1.id), "guest"),
    ]
    # only your own email is shown
    assert {m["user"]["id"]: m["user"]["email"] for m in members} == {
        str(host.id): None,
        str(g2.id): None,
        str(g0.id): f"{g0.name}@queueit.local",
        str(g1.id): None,
    }
    assert members[0]["user"]["username"] == host.name


async def test_roles(actor: Any, db: Database) -> None:
    s, host, (a, b, _) = await party(actor)
    problem(await a.client.put(role_url(s, b), json={"role": "cohost"}), 403, "not_host")
    seq = (await events_of(db, s["id"]))[-1].seq
    member = ok(await host.client.put(role_url(s, a), json={"role": "cohost"}))
    assert member["role"] == "cohost" and member["user"]["id"] == str(a.id)
    # a co-host still cannot appoint co-hosts
    problem(await a.client.put(role_url(s, b), json={"role": "cohost"}), 403, "not_host")
    ok(await host.client.put(role_url(s, a), json={"role": "cohost"}))  # no change, no event
    ok(await host.client.put(role_url(s, a), json={"role": "guest"}))
    events = await events_of(db, s["id"], after=seq)
    assert types(events) == ["member_role_changed", "member_role_changed"]
    assert [e.data.member.role.value for e in events] == ["cohost", "guest"]
    problem(
        await host.client.put(role_url(s, host), json={"role": "guest"}),
        403,
        "cannot_moderate_member",
    )
    problem(await host.client.put(role_url(s, a), json={"role": "host"}), 422, "validation_failed")
    stranger = await actor("stranger")
    problem(
        await host.client.put(role_url(s, stranger), json={"role": "cohost"}),
        404,
        "member_not_found",
    )


async def test_kick(actor: Any, db: Database) -> None:
    s, host, (guest, co, co2) = await party(actor)
    for person in (co, co2):
        ok(await host.client.put(role_url(s, person), json={"role": "cohost"}))
    kick = "/api/v1/sessions/{}/members/{}/kick"
    problem(await guest.client.post(kick.format(s["id"], co.id)), 403, "not_moderator")
    problem(await co.client.post(kick.format(s["id"], host.id)), 403, "cannot_moderate_member")
    problem(await co.client.post(kick.format(s["id"], co2.id)), 403, "cannot_moderate_member")
    problem(await co.client.post(kick.format(s["id"], co.id)), 403, "cannot_moderate_member")
    problem(await co.client.post(kick.format(s["id"], uuid.uuid4())), 404, "member_not_found")
    seq = (await events_of(db, s["id"]))[-1].seq
    ok(await co.client.post(kick.format(s["id"], guest.id)), 204)
    problem(await guest.current(), 404, "not_in_session")
    ok(await host.client.post(kick.format(s["id"], co2.id)), 204)  # the host kicks co-hosts
    events = await events_of(db, s["id"], after=seq)
    assert types(events) == ["member_kicked", "member_kicked"]
    assert [(e.data.user_id, e.data.by, e.data.banned, e.data.member_count) for e in events] == [
        (guest.id, co.id, False, 3),
        (co2.id, host.id, False, 2),
    ]
    # a kicked member may come back
    assert ok(await guest.join(s["join_code"]))["my_role"] == "guest"


async def test_ban(actor: Any, db: Database) -> None:
    s, host, (guest, co, _) = await party(actor)
    ok(await host.client.put(role_url(s, co), json={"role": "cohost"}))
    ban = "/api/v1/sessions/{}/members/{}/ban"
    problem(await guest.client.post(ban.format(s["id"], co.id)), 403, "not_moderator")
    problem(await co.client.post(ban.format(s["id"], host.id)), 403, "cannot_moderate_member")
    ok(await co.client.post(ban.format(s["id"], guest.id)), 204)
    problem(await guest.current(), 404, "not_in_session")
    problem(await guest.join(s["join_code"]), 403, "banned")
    problem(await guest.client.get(f"/api/v1/sessions/{s['id']}/settings"), 403, "banned")
    last = (await events_of(db, s["id"]))[-1]
    assert last.type == "member_kicked" and last.data.banned is True and last.data.by == co.id

    # a user who is not a member (but exists) can be banned ahead; twice is a no-op
    other = await actor("other")
    ok(await other.create())  # gives other a profile (and a session of their own)
    ok(await host.client.post(ban.format(s["id"], other.id)), 204)
    seq = (await events_of(db, s["id"]))[-1].seq
    ok(await host.client.post(ban.format(s["id"], other.id)), 204)
    assert (await events_of(db, s["id"]))[-1].seq == seq
    problem(await other.join(s["join_code"]), 403, "banned")
    assert ok(await other.current())["my_role"] == "host"  # still where they were
    # an id no user has (before: member_not_found, as if the user had to be a member)
    problem(await host.client.post(ban.format(s["id"], uuid.uuid4())), 404, "user_not_found")
