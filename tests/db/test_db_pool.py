"""queueit.db.Database: user transactions, error mapping, recovery after a database restart."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pgserver import _commands as pg_commands
from pgserver.postgres_server import PostgresServer, get_server

from queueit.db import (
    Database,
    DatabaseTimeout,
    DatabaseUnavailable,
    apply,
    start_embedded,
)


def claims(user_id: uuid.UUID) -> dict[str, Any]:
    return {"sub": str(user_id), "role": "authenticated", "email": "p@example.test"}


async def test_user_tx_runs_as_authenticated_with_claims(db: Database) -> None:
    user_id = uuid.uuid4()
    async with db.user_tx(user_id, claims(user_id)) as conn:
        row = await conn.fetchrow(
            "select current_user as role, session_user as login, auth.uid() as uid,"
            " auth.jwt() ->> 'email' as email, current_setting('statement_timeout') as timeout"
        )
    assert row["role"] == "authenticated"
    assert row["uid"] == user_id and row["email"] == "p@example.test"
    assert row["timeout"] == "10s"
    login = row["login"]
    # the role and claims are transaction-local: a pooled connection comes back clean
    async with db.system_conn() as conn:
        again = await conn.fetchrow(
            "select current_user as role, current_setting('request.jwt.claims', true) as claims"
        )
    assert again["role"] == login and not again["claims"]


async def test_commit_and_rollback(db: Database, new_user: Any) -> None:
    user = await new_user("tx")
    async with user.tx(db) as conn:
        await conn.execute(
            "update queueit.profiles set username = 'committed' where id = $1", user.id
        )
    with pytest.raises(RuntimeError):
        async with user.tx(db) as conn:
            await conn.execute(
                "update queueit.profiles set username = 'rolled back' where id = $1", user.id
            )
            raise RuntimeError("boom")
    async with user.tx(db) as conn:
        assert await conn.fetchval(
            "select username from queueit.profiles where id = $1", user.id
        ) == ("committed")


async def test_claims_must_match_user(db: Database) -> None:
    with pytest.raises(ValueError, match="sub"):
        async with db.user_tx(uuid.uuid4(), {"sub": str(uuid.uuid4())}):
            pass


async def test_json_codec(db: Database) -> None:
    async with db.system_conn() as conn:
        assert await conn.fetchval("select $1::jsonb", {"a": [1, "x", None]}) == {
            "a": [1, "x", None]
        }


async def test_statement_timeout_is_database_timeout(migrated_dsn: str) -> None:
    database = Database(migrated_dsn, min_size=1, max_size=2, statement_timeout_ms=100)
    await database.start()
    try:
        user_id = uuid.uuid4()
        with pytest.raises(DatabaseTimeout):
            async with database.user_tx(user_id, claims(user_id)) as conn:
                await conn.execute("select pg_sleep(2)")
        await database.ping()  # the pool is fine afterwards
    finally:
        await database.close()


async def test_pool_exhaustion_is_unavailable(migrated_dsn: str) -> None:
    database = Database(migrated_dsn, min_size=1, max_size=1, acquire_timeout=0.2)
    await database.start()
    try:
        user_id = uuid.uuid4()
        async with database.user_tx(user_id, claims(user_id)):
            with pytest.raises(DatabaseUnavailable):
                async with database.user_tx(user_id, claims(user_id)):
                    pass
    finally:
        await database.close()


async def test_connection_lost_mid_transaction(db: Database) -> None:
    user_id = uuid.uuid4()
    with pytest.raises(DatabaseUnavailable):
        async with db.user_tx(user_id, claims(user_id)) as conn:
            pid = await conn.fetchval("select pg_backend_pid()")
            async with db.system_conn() as admin:
                await admin.execute("select pg_terminate_backend($1)", pid)
            await asyncio.sleep(0.05)
            await conn.fetchval("select 1")
    async with db.user_tx(user_id, claims(user_id)) as conn:
        assert await conn.fetchval("select 1") == 1


async def test_unreachable_database(tmp_path: Path) -> None:
    dsn = f"postgresql://postgres@/postgres?host={tmp_path}"  # no server listens there
    database = Database(dsn, connect_timeout=1)
    await database.start()  # does not raise: the service starts and reports 503
    try:
        with pytest.raises(DatabaseUnavailable):
            await database.ping()
        user_id = uuid.uuid4()
        with pytest.raises(DatabaseUnavailable):
            async with database.user_tx(user_id, claims(user_id)):
                pass
        with pytest.raises(DatabaseUnavailable):
            await database.connect_dedicated()
        with pytest.raises(DatabaseUnavailable):
            await apply(dsn)
    finally:
        await database.close()


# --- restart -----------------------------------------------------------------------------------


@pytest.fixture
def own_server() -> Iterator[tuple[str, PostgresServer]]:
    """A separate embedded server (started through start_embedded) that the test may stop."""
    root = Path(tempfile.mkdtemp(prefix="queueit-pg-own-"))
    dsn = start_embedded(root / "data")
    server = get_server(root / "data" / "postgres")
    yield dsn, server
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


def stop(server: PostgresServer) -> None:
    pg_commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


async def test_pool_recovers_after_database_restart(own_server: tuple[str, PostgresServer]) -> None:
    dsn, server = own_server
    assert dsn.split("?")[0].endswith("/queueit")
    await apply(dsn)
    database = Database(dsn, min_size=3, max_size=5, connect_timeout=2, acquire_timeout=2)
    await database.start()
    user_id = uuid.uuid4()
    try:
        async with database.user_tx(user_id, claims(user_id)) as conn:
            assert await conn.fetchval("select auth.uid()") == user_id

        await asyncio.to_thread(stop, server)
        with pytest.raises(DatabaseUnavailable):
            await database.ping()
        with pytest.raises(DatabaseUnavailable):
            async with database.user_tx(user_id, claims(user_id)):
                pass

        await asyncio.to_thread(server.ensure_postgres_running)
        # no restart of the pool, no error: dead connections are replaced on the way
        for _ in range(10):
            async with database.user_tx(user_id, claims(user_id)) as conn:
                assert await conn.fetchval("select current_user") == "authenticated"
        await database.ping()
    finally:
        await database.close()


async def test_pool_started_while_database_down_connects_later(
    own_server: tuple[str, PostgresServer],
) -> None:
    dsn, server = own_server
    await asyncio.to_thread(stop, server)
    database = Database(dsn, min_size=2, max_size=4, connect_timeout=2, acquire_timeout=2)
    await database.start()
    try:
        with pytest.raises(DatabaseUnavailable):
            await database.ping()
        await asyncio.to_thread(server.ensure_postgres_running)
        await database.ping()
    finally:
        await database.close()
