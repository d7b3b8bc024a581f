"""Anonymous sign-ins (`is_anonymous` claim) are guests: they join, add and vote, and may not
host or be made co-host unless the deployment allows anonymous hosts."""

from __future__ import annotations

from typing import Any

from apikit import ok, problem, track

ALLOW = {"allow_anonymous_hosts": True}


async def test_anonymous_guests_join_add_and_vote_but_do_not_host(actor: Any) -> None:
    host = await actor("host")
    anon = await actor("anon", anonymous=True)
    refused = problem(await anon.create(), 403, "anonymous_not_allowed")
    assert "sign up" in refused["detail"]
    assert problem(await anon.current(), 404, "not_in_session")  # nothing was created
    s = ok(await host.create())["session"]
    ok(await anon.join(s["join_code"]))
    entry = ok(await anon.add(track()))["id"]
    assert ok(await anon.vote(entry, -1))["total_votes"] == -1
    # a host cannot make them co-host
    url = f"/api/v1/sessions/{s['id']}/members/{anon.id}/role"
    problem(await host.client.put(url, json={"role": "cohost"}), 403, "anonymous_not_allowed")
    members = ok(await host.client.get(f"/api/v1/sessions/{s['id']}/members"))["members"]
    assert {m["user"]["id"]: m["role"] for m in members}[str(anon.id)] == "guest"


async def test_a_leaving_host_never_hands_over_to_an_anonymous_guest(actor: Any) -> None:
    host, anon, later = await actor("host"), await actor("anon", anonymous=True), await actor("g")
    s = ok(await host.create())["session"]
    ok(await anon.join(s["join_code"]))  # the longest-standing guest, but anonymous
    ok(await later.join(s["join_code"]))
    assert ok(await host.leave())["session_ended"] is False
    assert ok(await later.current())["session"]["host"]["id"] == str(later.id)
    # only anonymous guests left: the session ends with the host
    s2_host, anon2 = await actor("host2"), await actor("anon2", anonymous=True)
    s2 = ok(await s2_host.create())["session"]
    ok(await anon2.join(s2["join_code"]))
    assert ok(await s2_host.leave())["session_ended"] is True
    problem(await anon2.current(), 404, "not_in_session")


async def test_a_deployment_may_allow_anonymous_hosts(start_server: Any, actor: Any) -> None:
    live = start_server(**ALLOW)
    anon = await actor("anon", server=live, anonymous=True)
    other = await actor("anon2", server=live, anonymous=True)
    s = ok(await anon.create())["session"]
    ok(await other.join(s["join_code"]))
    url = f"/api/v1/sessions/{s['id']}/members/{other.id}/role"
    assert ok(await anon.client.put(url, json={"role": "cohost"}))["role"] == "cohost"
