"""`/livez` (the process runs) and `/healthz` (database, auth keys and search are usable)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from queueit_contract.models import Health, Liveness, SearchSource
from starlette.responses import Response

from queueit.http.problems import ServiceUnavailable
from queueit.http.rendering import respond
from queueit.runtime import Runtime

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_SECONDS = 3.0


@router.get("/livez")
async def get_liveness(request: Request) -> Response:
    # Fails only when the process cannot get well by itself (the embedded database's supervisor
    # gave up): then restarting the process is the fix, which is what liveness probes trigger.
    failure = Runtime.of(request).failure
    if failure is not None:
        raise ServiceUnavailable("unhealthy", f"Not live: {failure}.")
    return respond(Liveness(status="ok"))


async def _bounded(name: str, check: Awaitable[str]) -> tuple[str, str]:
    try:
        return name, await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return name, f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    except Exception as exc:  # a health check reports, it never raises
        return name, f"check failed: {type(exc).__name__}"


async def _database_check(runtime: Runtime) -> str:
    await runtime.db.ping()
    return "ok"


async def _auth_check(runtime: Runtime) -> str:
    health = await runtime.verifier.health()
    return "ok" if health.ok else health.detail


@router.get("/healthz")
async def get_health(request: Request) -> Response:
    runtime = Runtime.of(request)
    results = await asyncio.gather(
        _bounded("database", _database_check(runtime)),
        _bounded("auth", _auth_check(runtime)),
        _bounded("search", runtime.search.health()),
    )
    checks = dict(results)
    failing = [name for name, state in checks.items() if state != "ok"]
    if failing:
        raise ServiceUnavailable(
            "unhealthy", f"Not ready: {', '.join(failing)}.", extra={"checks": checks}
        )
    return respond(
        Health(
            status="ok",
            checks=checks,
            search_source=SearchSource(runtime.search.source),
        )
    )
