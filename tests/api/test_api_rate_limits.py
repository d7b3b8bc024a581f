"""Rate limits shared between service instances (LIMITS_STORAGE_URL=redis://), and what a
limit does when its store is away.

Before the limits moved to a shared store, every instance counted on its own: two instances on
one database let a user write, join and search twice as often, and an address guess twice as
many join codes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from apikit import LiveServer, new_actor, ok, problem, track

from queueit.auth.dev import mint_dev_token
from queueit.http.problems import TooManyRequests
from queueit.http.rate_limits import Budgets, RateLimit, RefundableRateLimit, per_minute


def two_instances(
    start_server: Callable[..., LiveServer], data_dir: Path, redis_url: str, **limits: int
) -> tuple[LiveServer, LiveServer]:
    # one DATA_DIR: the development tokens one instance mints are good on the other
    settings = {"data_dir": data_dir, "limits_storage_url": redis_url, **limits}
    return start_server(**settings), start_server(**settings)


async def test_two_instances_share_a_users_write_budget(
    start_server: Callable[..., LiveServer], tmp_path: Path, redis_url: str
) -> None:
    first, second = two_instances(
        start_server, tmp_path / "shared", redis_url, rate_limit_writes_per_minute=4
    )
    on_first = new_actor(first, "host")
    on_second = new_actor(second, "host")
    on_second.client.headers["Authorization"] = on_first.client.headers["Authorization"]
    try:
        ok(await on_first.create())
        ok(await on_second.add(track()))
        ok(await on_first.add(track()))
        ok(await on_second.add(track()))  # the 4th write, across both instances
        refused = await on_first.add(track())
        problem(refused, 429, "rate_limited")
        problem(await on_second.add(track()), 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert len(ok(await on_second.current())["queue"]) == 3  # refused writes wrote nothing
    finally:
        await on_first.client.aclose()
        await on_second.client.aclose()


async def test_two_instances_share_an_addresss_wrong_codes(
    start_server: Callable[..., LiveServer], tmp_path: Path, redis_url: str
) -> None:
    first, second = two_instances(
        start_server,
        tmp_path / "shared",
        redis_url,
        rate_limit_joins_per_minute=1_000,
        rate_limit_wrong_codes_per_address_per_minute=4,
    )
    guessers = [new_actor(server, f"guesser{n}") for n, server in enumerate([first, second] * 3)]
    try:
        statuses = [(await g.join("ZZZZ9999")).status_code for g in guessers]
        assert statuses == [404] * 4 + [429] * 2, statuses
    finally:
        for guesser in guessers:
            await guesser.client.aclose()


async def test_a_shared_limit_counts_concurrent_hits_exactly(redis_url: str) -> None:
    instances = [Budgets(redis_url) for _ in range(2)]
    limits = [RateLimit(budgets, "tries", [per_minute(25)]) for budgets in instances]
    key = "user-concurrent"

    async def attempt(n: int) -> bool:
        try:
            await limits[n % 2].hit(key)
        except TooManyRequests:
            return False
        return True

    allowed = await asyncio.gather(*(attempt(n) for n in range(60)))
    assert sum(allowed) == 25
    for budgets in instances:
        await budgets.close()


async def test_a_right_code_given_back_after_the_window_ended_leaves_no_credit(
    redis_url: str,
) -> None:
    budgets = Budgets(redis_url)
    limit = RefundableRateLimit(budgets, "wrong codes", [per_minute(2)])
    key = "203.0.113.9"
    await limit.hit(key)
    await budgets.storage.clear(limit.items[0].key_for(limit.namespace, key))  # window ends
    await limit.refund(key)  # the attempt taken in the old window turns out right
    await limit.hit(key)
    await limit.hit(key)
    with pytest.raises(TooManyRequests):
        await limit.hit(key)  # 2 a minute, not 3
    await budgets.close()


async def test_an_unreachable_store_falls_back_to_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    budgets = Budgets("redis://127.0.0.1:1/0")  # nothing listens on port 1
    limit = RateLimit(budgets, "writes", [per_minute(2)])
    await limit.hit("user")
    await limit.hit("user")
    with pytest.raises(TooManyRequests):
        await limit.hit("user")
    assert [r.message for r in caplog.records].count(
        "rate limit store unreachable; counting in this process"
    ) == 1  # logged once, not per request
    await budgets.close()


def test_an_unknown_store_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="LIMITS_STORAGE_URL"):
        Budgets("postgresql://localhost/queueit")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_failed_authentications_are_limited_per_address_and_never_lock_out_a_token(
    start_server: Callable[..., LiveServer],
) -> None:
    """Before: 2,000 failed authentications of five kinds got 2,000 401s and no 429."""
    server = start_server(rate_limit_failed_auth_per_address_per_minute=5)
    member = new_actor(server, "member")
    expired = mint_dev_token("late", server.settings, now=time.time() - 3 * 24 * 3600)
    header, payload, _ = expired.split(".")
    kinds = [
        {},  # none
        bearer("garbage"),
        bearer(expired),
        bearer(f"{header}.{payload}.{'A' * 43}"),  # forged signature
        {"Authorization": "Basic dXNlcjpwdw=="},
    ]
    try:
        async with httpx.AsyncClient(base_url=server.url) as stranger:
            answers = [await stranger.get("/api/v1/sessions/current", headers=h) for h in kinds * 2]
        assert [a.status_code for a in answers] == [401] * 5 + [429] * 5
        problem(answers[-1], 429, "rate_limited")
        assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
        # the same address with a valid token is not refused
        assert (await member.current()).status_code in (200, 404)
    finally:
        await member.client.aclose()


async def test_reads_are_limited_per_user_and_per_address(
    start_server: Callable[..., LiveServer],
) -> None:
    """Before: reads had no limit at all (GET /events?limit=500 at 199/s from one user)."""
    server = start_server(rate_limit_reads_per_minute=8, rate_limit_reads_per_address_per_minute=12)
    reader, other = new_actor(server, "reader"), new_actor(server, "other")
    try:
        ok(await reader.create())
        statuses = [(await reader.current()).status_code for _ in range(8)]
        assert statuses == [200] * 8
        refused = await reader.current()
        problem(refused, 429, "rate_limited")
        ok(await reader.add(track()))  # writes have their own budget
        # the address has 12: the other account gets the 4 left, then 429
        statuses = [(await other.current()).status_code for _ in range(5)]
        assert statuses == [404] * 4 + [429], statuses
        # a page of 500 events costs 6 reads (1 + one per 100 asked for): of 11, one page
        fresh = start_server(rate_limit_reads_per_minute=11)
        paging = new_actor(fresh, "pager")
        psid = ok(await paging.create())["session"]["id"]
        events = f"/api/v1/sessions/{psid}/events"
        assert (await paging.client.get(events, params={"limit": 500})).status_code == 200
        problem(await paging.client.get(events, params={"limit": 500}), 429, "rate_limited")
        assert (await paging.client.get(events, params={"limit": 50})).status_code == 200
        await paging.client.aclose()
    finally:
        await reader.client.aclose()
        await other.client.aclose()
