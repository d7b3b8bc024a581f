"""SQL of the profiles feature."""

from __future__ import annotations

from uuid import UUID

from queueit.db import Connection

# The user writes their own row (RLS: id = auth.uid()). A row that already says the same is not
# rewritten (no dead tuple, no updated_at churn).
_UPSERT = """
insert into queueit.profiles as p (id, username, email, avatar_url, is_anonymous)
values ($1, $2, $3, $4, $5)
on conflict (id) do update
   set username = excluded.username, email = excluded.email, avatar_url = excluded.avatar_url,
       is_anonymous = excluded.is_anonymous
 where (p.username, p.email, p.avatar_url, p.is_anonymous)
       is distinct from (excluded.username, excluded.email, excluded.avatar_url,
                         excluded.is_anonymous)
"""


async def upsert_profile(
    conn: Connection,
    user_id: UUID,
    username: str,
    email: str | None,
    avatar_url: str | None,
    is_anonymous: bool,
) -> None:
    await conn.execute(_UPSERT, user_id, username, email, avatar_url, is_anonymous)
