"""SQL of the moderation feature (settings writes live in queueit.sessions.repository)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from queueit.db import Connection
from queueit.http.problems import NotFound


async def set_role(conn: Connection, session_id: UUID, user_id: UUID, role: str) -> bool:
    """RLS: only the host, never on the host row."""
    value = await conn.fetchval(
        "update queueit.session_members set role = $3"
        " where session_id = $1 and user_id = $2 returning user_id",
        session_id,
        user_id,
        role,
    )
    return value is not None


async def ban(conn: Connection, session_id: UUID, user_id: UUID, by: UUID) -> bool:
    """Record the ban; False when the user was banned already."""
    try:
        value = await conn.fetchval(
            "insert into queueit.session_bans (session_id, user_id, banned_by) values ($1, $2, $3)"
            " on conflict (session_id, user_id) do nothing returning user_id",
            session_id,
            user_id,
            by,
        )
    except asyncpg.ForeignKeyViolationError as exc:  # no such user at all
        raise NotFound("user_not_found", "No QueueIT user has this id.") from exc
    return value is not None
