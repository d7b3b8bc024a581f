"""Deleting the caller's account: the Auth user first, then QueueIT's data.

Order matters for "never half-deleted". On Supabase, deleting the Auth user runs the trigger
`queueit_forget_user` on `auth.users` inside the Auth server's own transaction, which forgets the
user (`app.forget_user`: sessions ended, songs removed, votes withdrawn, profile deleted, events
written and NOTIFYed): the Auth user and the data go together or not at all. When the Auth server
fails, nothing has changed and the request answers 503 (retry). `app.forget_me` then runs in the
caller's own transaction: it does the same work where there is no Auth trigger (the embedded
database, development tokens) and nothing when the trigger already did it.
"""

from __future__ import annotations

from uuid import UUID

from queueit.account.auth_admin import AuthAdmin, AuthAdminUnavailable
from queueit.http.problems import ServiceUnavailable
from queueit.kit.tx import Tx


async def delete_auth_user(admin: AuthAdmin | None, user_id: UUID, *, dev_auth: bool) -> None:
    """Delete the Auth user, or raise 503. Development tokens have no Auth user to delete."""
    if admin is None:
        if dev_auth:
            return
        raise ServiceUnavailable(
            "service_unavailable",
            "Account deletion is not configured on this server (no service-role key).",
        )
    try:
        await admin.delete_user(user_id)
    except AuthAdminUnavailable as exc:
        raise ServiceUnavailable(
            "service_unavailable",
            "The account service did not answer; nothing was deleted. Try again.",
            headers={"Retry-After": "5"},
        ) from exc


async def forget_me(tx: Tx) -> None:
    """Remove the caller's data, recording the events it wrote for publishing."""
    for row in await tx.conn.fetch("select session_id, seq from app.forget_me()"):
        tx.appended_event(row["session_id"], int(row["seq"]))
