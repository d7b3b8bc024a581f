"""The account edge: DELETE /api/v1/me."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from queueit.account import service
from queueit.auth.deps import CurrentUser
from queueit.kit.tx import user_work
from queueit.profiles import service as profiles
from queueit.runtime import Runtime

router = APIRouter(tags=["account"])


@router.delete("/api/v1/me", status_code=204)
async def delete_account(request: Request, user: CurrentUser) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.writes.hit(str(user.id))
    await service.delete_auth_user(runtime.auth_admin, user.id, dev_auth=runtime.settings.dev_auth)
    # No profile upsert: the profile is what is being deleted (and on Supabase it is gone).
    async with user_work(runtime, user, ensure_profile=False) as tx:
        await service.forget_me(tx)
    profiles.forget_user(runtime.db, user.id)
    return Response(status_code=204)
