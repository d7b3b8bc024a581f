"""What the realtime subsystem needs from the session service: the current session as one
member sees it (the contract's `CurrentSessionResponse`, the same body as
`GET /api/v1/sessions/current`).

The hub calls the loader inside the member's RLS-scoped transaction (`db.user_tx`), after it has
checked the membership and AFTER the socket was subscribed, so no event can fall between the
snapshot and live delivery. The loader must read everything, `seq` included, as of one point in
time: one statement, or a REPEATABLE READ transaction. (A `seq` older than the rest of the
snapshot would make the client apply an event twice; a newer one would lose an event.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel

from queueit.auth.user import AuthUser
from queueit.db import Connection


class SnapshotLoader(Protocol):
    def __call__(
        self, conn: Connection, user: AuthUser, session_id: UUID
    ) -> Awaitable[Mapping[str, Any] | BaseModel]:
        """The CurrentSessionResponse (a mapping or a model with `seq`) of `session_id`."""
        ...


def snapshot_data(snapshot: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    """The loader's answer as a plain dict (models dumped; datetimes kept for the encoder)."""
    if isinstance(snapshot, BaseModel):
        data: dict[str, Any] = snapshot.model_dump(mode="python")
        return data
    return dict(snapshot)


class SnapshotUnavailable(RuntimeError):
    """No snapshot loader is configured (the app must set `hub.snapshot_loader`)."""
