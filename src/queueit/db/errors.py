"""Database exceptions the rest of the service handles.

Hierarchy::

    DatabaseError                 base of every error raised by queueit.db itself
    ├── DatabaseUnavailable       the database cannot be reached or refused the connection:
    │   │                         server down, restarting, too many connections, pool exhausted,
    │   │                         connection lost mid-transaction. HTTP: 503 with Retry-After.
    │   └── DatabaseTimeout       a statement ran past db_statement_timeout_ms (or a lock wait
    │                             timed out). Also 503: the database is overloaded or contended.
    └── MigrationError            a migration file failed or the migration table is inconsistent.

Errors that are about the *request* (constraint and RLS violations, custom SQLSTATEs raised by
the SQL functions) are not wrapped: they arrive as asyncpg's own exception classes and the
service maps them by SQLSTATE (see docs/data-model.md, "Errors").

In every wrapped error, ``__cause__`` is the original exception.
"""

from __future__ import annotations

import asyncpg

__all__ = [
    "DatabaseError",
    "DatabaseTimeout",
    "DatabaseUnavailable",
    "MigrationError",
    "is_connection_error",
    "is_timeout_error",
]


class DatabaseError(Exception):
    """Base class of the errors raised by queueit.db."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot serve requests right now (the HTTP layer answers 503)."""


class DatabaseTimeout(DatabaseUnavailable):
    """A statement was cancelled by statement_timeout / lock_timeout (also a 503)."""


class MigrationError(DatabaseError):
    """A migration could not be applied."""


# SQLSTATE classes/codes that mean "the server, not the query, is the problem".
_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unix socket missing, ...
    TimeoutError,  # connect/acquire timeout (asyncio.TimeoutError is TimeoutError on 3.11+)
    asyncpg.PostgresConnectionError,  # class 08: connection exception (incl. connection lost)
    asyncpg.CannotConnectNowError,  # 57P03 starting up / shutting down
    asyncpg.AdminShutdownError,  # 57P01 server shut down the backend
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,  # 53300
)


def is_timeout_error(exc: BaseException) -> bool:
    """True for statement_timeout (57014 query_canceled) and lock_timeout (55P03)."""
    return isinstance(exc, asyncpg.QueryCanceledError | asyncpg.LockNotAvailableError)


def is_connection_error(exc: BaseException, conn: object | None = None) -> bool:
    """True when ``exc`` means the database is unreachable rather than the query being wrong.

    ``asyncpg.InterfaceError`` counts only when it reports a dead connection: "connection is
    closed", or "released back to the pool", which is what a pooled connection raises after the
    server terminated it (the pool detaches it). queueit.db only asks this while it still owns the
    connection, so the latter cannot be a use-after-release bug. Other interface errors (e.g.
    concurrent use of one connection) are programming errors and must stay 500s.
    """
    if isinstance(exc, _UNAVAILABLE_ERRORS):
        return True
    if isinstance(exc, asyncpg.exceptions._base.InternalClientError) and (
        _STUCK_PROTOCOL_MESSAGE in str(exc)
    ):
        # The server sent an unsolicited FATAL between two statements (a backend ending because
        # its postmaster died): asyncpg's protocol is left waiting for a ReadyForQuery that never
        # comes and the next statement fails like this before the socket is seen closed.
        # Concurrent use of one connection is an InterfaceError instead, so this is the server.
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        message = str(exc)
        if any(marker in message for marker in _DEAD_CONNECTION_MESSAGES):
            return True
        try:
            return bool(conn is not None and conn.is_closed())  # type: ignore[attr-defined]
        except Exception:
            return True  # a connection that cannot even say whether it is closed is gone
    return False


_STUCK_PROTOCOL_MESSAGE = "cannot switch to state"

_DEAD_CONNECTION_MESSAGES = (
    "connection is closed",
    "released back to the pool",
    "pool is closing",
)
