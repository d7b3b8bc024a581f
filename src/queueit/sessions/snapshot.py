"""The full state of a session as one member sees it: `CurrentSessionResponse`.

Used by `GET /sessions/current`, the answers of create/join/control, the WebSocket's first
message and the events fallback's `snapshot`. Read in ONE statement, so `seq` (the session's
`last_seq`) and the state are as of the same instant even in a READ COMMITTED transaction.
"""

from __future__ import annotations

from uuid import UUID

from queueit_contract.models import CurrentSessionResponse

from queueit.auth.user import AuthUser
from queueit.db import Connection
from queueit.http.problems import Conflict, Forbidden, NotFound, ProblemError
from queueit.sessions import read_repository, repository


async def load_current_session(
    conn: Connection, user: AuthUser, session_id: UUID
) -> CurrentSessionResponse:
    """`session_id` as `user` sees it, inside the user's RLS transaction `conn`.

    Raises NotFound (`session_not_found`), Conflict (`session_ended`) or Forbidden (`banned`,
    `not_member`) when the user is not a member of it.
    """
    data = await read_repository.snapshot(conn, session_id)
    if data is None:
        raise await refusal(conn, session_id)
    return CurrentSessionResponse.model_validate(data)


async def load_my_session(conn: Connection) -> CurrentSessionResponse | None:
    """The caller's current session, or None when they are in none."""
    data = await read_repository.snapshot(conn, None)
    return None if data is None else CurrentSessionResponse.model_validate(data)


async def refusal(conn: Connection, session_id: UUID) -> ProblemError:
    """Why the caller cannot use `session_id` (call when they turned out not to be a member)."""
    access = await repository.session_access(conn, session_id)
    return refusal_for(access)


def refusal_for(access: repository.Access) -> ProblemError:
    if not access.found:
        return NotFound("session_not_found", "No such session.")
    if access.ended:
        return Conflict("session_ended", "The session has ended.")
    if access.banned:
        return Forbidden("banned", "You are banned from this session.")
    return Forbidden("not_member", "You are not a member of this session.")
