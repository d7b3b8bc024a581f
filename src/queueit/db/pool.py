"""The connection pool and the two ways to use it.

Do:
- run every piece of request work inside ``async with db.user_tx(user_id, claims) as conn``:
  one transaction, role ``authenticated``, the caller's claims in ``request.jwt.claims`` —
  RLS decides what the statements see. Commit happens when the block exits normally.
- keep transactions short and call ``app.append_event`` last (it locks the session row).
- catch ``DatabaseUnavailable`` (and its subclass ``DatabaseTimeout``) at the HTTP edge: 503.

Don't:
- use ``system_conn()`` for anything a user asked for. It runs as the login role, which bypasses
  RLS; it exists for migrations, the idle reaper, ``app.fetch_events`` fan-out and health checks.
- hold a pooled connection for LISTEN; use ``connect_dedicated()``.

jsonb/json values are decoded to Python objects and encoded from them (orjson), so pass dicts to
``app.append_event`` and get dicts back from ``payload`` columns.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import UUID

import asyncpg
import orjson
from asyncpg import Connection

from queueit.db.errors import (
    DatabaseTimeout,
    DatabaseUnavailable,
    is_connection_error,
    is_timeout_error,
)

if TYPE_CHECKING:
    from queueit.config import Settings

__all__ = ["Connection", "Database"]

logger = logging.getLogger(__name__)

# One round trip, as PostgREST does it: `set_config('role', ..., true)` is `SET LOCAL ROLE`.
_SET_USER_CONTEXT = (
    "select set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)"
)


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: Connection) -> None:
    for typename in ("jsonb", "json"):
        await conn.set_type_codec(
            typename, schema="pg_catalog", encoder=_encode_json, decoder=orjson.loads, format="text"
        )


async def _reset_connection(conn: Connection) -> None:
    """Release without asyncpg's default reset (`DISCARD ALL` and friends: a round trip per
    request). Nothing needs it: the claims and the role are set transaction-locally
    (`set_config(..., true)`), an open transaction is rolled back by asyncpg before this runs,
    and LISTEN happens only on dedicated connections, never on pooled ones."""


def claims_json(user_id: UUID, claims: Mapping[str, Any]) -> str:
    """The JSON put into ``request.jwt.claims``: the verified claims, with ``sub`` = user_id.

    A ``sub`` that disagrees with ``user_id`` is a bug in the caller and raises ValueError.
    ``role`` defaults to ``authenticated`` (what auth.role() returns on Supabase).
    """
    sub = claims.get("sub")
    if sub is not None and str(sub) != str(user_id):
        raise ValueError("claims['sub'] does not match user_id")
    merged: dict[str, Any] = {"role": "authenticated", **claims, "sub": str(user_id)}
    payload = orjson.dumps(merged, default=str)
    if b"\\u0000" in payload:  # rare: only then walk the claims (this runs every transaction)
        payload = orjson.dumps(_without_nul(merged), default=str)
    return payload.decode()


def _without_nul(value: Any) -> Any:
    """The claims without U+0000: PostgreSQL's jsonb cannot hold it, and a user can put it in
    their own `user_metadata`, which would fail every transaction of theirs."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


class Database:
    """An asyncpg pool with RLS-scoped user transactions.

    ``start()`` never fails because the database is down: the pool then connects lazily and every
    use raises ``DatabaseUnavailable`` until the server is back, after which it recovers by itself
    (dead connections are discarded and replaced on the next acquire).
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 2,
        max_size: int = 20,
        statement_timeout_ms: int = 5000,
        idle_in_transaction_timeout_ms: int = 60_000,
        connect_timeout: float = 5.0,
        acquire_timeout: float = 5.0,
        application_name: str = "queueit",
    ) -> None:
        self._dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._connect_timeout = connect_timeout
        self._acquire_timeout = acquire_timeout
        self._server_settings = {
            "application_name": application_name,
            "statement_timeout": str(statement_timeout_ms),
            "idle_in_transaction_session_timeout": str(idle_in_transaction_timeout_ms),
        }
        self._pool: asyncpg.Pool | None = None

    @classmethod
    def from_settings(cls, settings: Settings, dsn: str) -> Database:
        """A Database configured from Settings; ``dsn`` from ``queueit.db.resolve_dsn``."""
        return cls(
            dsn,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            statement_timeout_ms=settings.db_statement_timeout_ms,
        )

    @property
    def dsn(self) -> str:
        return self._dsn

    @property
    def started(self) -> bool:
        return self._pool is not None

    async def start(self) -> None:
        if self._pool is not None:
            return
        try:
            self._pool = await self._create_pool(self._min_size)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            logger.warning("database unreachable at start (%s); connecting lazily", exc)
            self._pool = await self._create_pool(0)

    async def _create_pool(self, min_size: int) -> asyncpg.Pool:
        return await asyncpg.create_pool(
            self._dsn,
            min_size=min_size,
            max_size=self._max_size,
            timeout=self._connect_timeout,
            server_settings=self._server_settings,
            init=_init_connection,
            reset=_reset_connection,
        )

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await pool.close()
            except Exception as exc:  # closing must not fail shutdown
                logger.warning("closing the database pool failed: %s", exc)
                pool.terminate()

    async def connect_dedicated(self) -> Connection:
        """A standalone connection (same settings, not from the pool) for LISTEN. Close it."""
        try:
            conn = await asyncpg.connect(
                self._dsn,
                timeout=self._connect_timeout,
                server_settings=self._server_settings,
            )
        except Exception as exc:
            _raise_mapped(exc)
        await _init_connection(conn)
        return conn

    async def ping(self) -> None:
        """Round trip to the server; raises DatabaseUnavailable when it is not there."""
        async with self.system_conn() as conn:
            await conn.fetchval("select 1")

    @contextlib.asynccontextmanager
    async def system_conn(self) -> AsyncIterator[Connection]:
        """A pooled connection as the login role, no transaction, RLS bypassed. See module doc."""
        conn = await self._acquire()
        try:
            yield conn
        except BaseException as exc:
            _raise_mapped(exc, conn)
        finally:
            await self._release(conn)

    @contextlib.asynccontextmanager
    async def user_tx(self, user_id: UUID, claims: Mapping[str, Any]) -> AsyncIterator[Connection]:
        """One transaction as ``authenticated`` with the caller's JWT claims (RLS applies).

        Commits when the block exits normally, rolls back on any exception. Connection failures
        and timeouts surface as DatabaseUnavailable / DatabaseTimeout; everything else (e.g.
        asyncpg.UniqueViolationError, asyncpg.InsufficientPrivilegeError) propagates unchanged.
        """
        payload = claims_json(user_id, claims)
        conn, tx = await self._begin_user_tx(payload)
        try:
            try:
                yield conn
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    await tx.rollback()
                _raise_mapped(exc, conn)
            try:
                await tx.commit()
            except BaseException as exc:
                _raise_mapped(exc, conn)
        finally:
            await self._release(conn)

    async def _begin_user_tx(self, payload: str) -> tuple[Connection, Any]:
        # A pooled connection may have died while idle (server restart). Nothing of the request
        # has run yet, so the setup is retried once on a fresh connection before giving up.
        for attempt in (1, 2):
            conn = await self._acquire()
            tx = conn.transaction()
            try:
                await tx.start()
                await conn.execute(_SET_USER_CONTEXT, payload)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    await tx.rollback()
                await self._release(conn)
                if attempt == 1 and is_connection_error(exc, conn):
                    continue
                _raise_mapped(exc, conn)
            return conn, tx
        raise AssertionError("unreachable")  # pragma: no cover

    async def _acquire(self) -> Connection:
        if self._pool is None:
            raise DatabaseUnavailable("the database pool is not started")
        try:
            return await self._pool.acquire(timeout=self._acquire_timeout)
        except BaseException as exc:
            _raise_mapped(exc)

    async def _release(self, conn: Connection) -> None:
        if self._pool is None:
            conn.terminate()
            return
        try:
            await self._pool.release(conn)
        except Exception as exc:  # a broken connection is simply dropped by the pool
            logger.debug("releasing a connection failed: %s", exc)


def _raise_mapped(exc: BaseException, conn: Connection | None = None) -> NoReturn:
    """Raise what ``_wrap`` maps ``exc`` to (chained to it), or ``exc`` itself."""
    mapped = _wrap(exc, conn)
    if mapped is exc:
        raise exc
    raise mapped from exc


def _wrap(exc: BaseException, conn: Connection | None = None) -> BaseException:
    """Map connection failures and timeouts to our exceptions; return anything else as is."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if is_timeout_error(exc):
        return DatabaseTimeout(f"database statement timed out: {exc}")
    if is_connection_error(exc, conn):
        return DatabaseUnavailable(f"database unavailable: {type(exc).__name__}: {exc}")
    return exc
