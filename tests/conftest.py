"""Shared fixtures: one embedded PostgreSQL per test run, and migrated databases on it.

The server is pgserver (the same PostgreSQL the service embeds), started once per pytest run in a
temporary folder, listening on a unix socket only, and deleted when the run ends. Every fixture
connects as the server's superuser, except ``service_db`` and the servers under test, which log in
as the service's own role ``queueit_service``; RLS applies once a transaction switches to
`authenticated`, which is what ``Database.user_tx`` does (whichever role logged in).

Fixtures
--------
pg_server      session   pgserver's PostgresServer handle (``.get_uri(dbname)``).
pg_dsn         session   DSN of the maintenance database ``postgres`` (create/drop databases here;
                         never put application tables in it).
migrated_dsn   session   DSN of ``queueit_test``: bootstrapped and migrated once, shared by all
                         tests. Isolate by data, not by database: create your own users
                         (``new_user``) and sessions in each test, never assume a table is empty.
fresh_dsn      function  DSN of a brand-new migrated database of its own (a copy of the migrated
                         template, well under a second), dropped after the test. Use it when a
                         test needs an empty database or changes something global.
db             session   a started ``queueit.db.Database`` on ``migrated_dsn`` (pool of 4..60), as
                         the superuser: ``user_tx`` for RLS, ``system_conn`` for test setup.
service_db     session   the same database as ``queueit_service``, the service's login role (the
                         servers under test log in as it too).
new_user       function  ``await new_user("alice")`` -> ``TestUser`` with a fresh uuid, JWT-like
                         claims and a profile row (created by the user themself, through RLS).
                         ``async with alice.tx(db) as conn`` runs as that user.
redis_url      session   ``redis://127.0.0.1:port/0`` of a throwaway redis-server
                         (tools/redis_server), for rate limits shared between instances. Without
                         the program: skipped on a developer's machine, an error in CI.
make_session   function  ``await make_session(host)`` -> ``TestSession(id, join_code)``: a live
                         session created and joined by ``host`` the way the service does it.
                         ``await make_session(host, guests=[bob, carol])`` also joins them.

``TestUser`` and ``TestSession`` below are the fixture return types.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from pgserver.postgres_server import PostgresServer, get_server

from queueit.db import SERVICE_ROLE, Connection, Database, apply, as_login_role

TEMPLATE_DB = "queueit_template"
SHARED_DB = "queueit_test"


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # not a test class

    id: uuid.UUID
    name: str
    claims: dict[str, Any] = field(hash=False)

    def tx(self, db: Database) -> AbstractAsyncContextManager[Connection]:
        """A transaction as this user (role authenticated, RLS on)."""
        return db.user_tx(self.id, self.claims)


@dataclass(frozen=True)
class TestSession:
    __test__ = False

    id: uuid.UUID
    join_code: str
    host: TestUser


def claims_for(user_id: uuid.UUID, name: str) -> dict[str, Any]:
    """Claims shaped like a Supabase access token's."""
    return {
        "sub": str(user_id),
        "role": "authenticated",
        "aud": "authenticated",
        "email": f"{name}@example.test",
        "user_metadata": {"name": name},
    }


def member_wire(user: TestUser, role: str) -> dict[str, Any]:
    """A contract `Member` (events never carry an email)."""
    return {
        "user": {"id": str(user.id), "username": user.name, "email": None, "avatar_url": None},
        "role": role,
        "joined_at": datetime.now(UTC).isoformat(),
    }


# --- server and databases ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    from tools import redis_server

    if not redis_server.available():
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (.ci/run installs it)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with redis_server.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    # Its own temp folder, not pytest's basetemp: pytest prunes old basetemp folders when other
    # runs start, which must never pull the data directory from under a running server.
    root = Path(tempfile.mkdtemp(prefix="queueit-pg-"))
    server = get_server(root / "data", cleanup_mode="delete")
    # Durability is pointless for a throwaway server; this makes CREATE DATABASE and commits fast.
    server.psql(
        "alter system set fsync = off; alter system set synchronous_commit = off;"
        " alter system set full_page_writes = off; select pg_reload_conf();"
    )
    yield server
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_dsn(pg_server: PostgresServer) -> str:
    return str(pg_server.get_uri("postgres"))


async def _admin(pg_dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def create_database(pg_dsn: str, name: str, template: str | None = None) -> None:
    """CREATE DATABASE name [TEMPLATE template] (names are generated by the fixtures)."""
    suffix = f' template "{template}"' if template else ""
    await _admin(pg_dsn, f'create database "{name}"{suffix}')


async def drop_database(pg_dsn: str, name: str) -> None:
    await _admin(pg_dsn, f'drop database if exists "{name}" with (force)')


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def migrated_template(pg_server: PostgresServer, pg_dsn: str) -> str:
    """Name of a database holding the bootstrap + all migrations (never connect to it)."""
    await create_database(pg_dsn, TEMPLATE_DB)
    await apply(str(pg_server.get_uri(TEMPLATE_DB)))
    return TEMPLATE_DB


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def migrated_dsn(pg_server: PostgresServer, pg_dsn: str, migrated_template: str) -> str:
    await create_database(pg_dsn, SHARED_DB, template=migrated_template)
    return str(pg_server.get_uri(SHARED_DB))


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_dsn(
    pg_server: PostgresServer, pg_dsn: str, migrated_template: str
) -> AsyncIterator[str]:
    name = f"queueit_t_{secrets.token_hex(6)}"
    await create_database(pg_dsn, name, template=migrated_template)
    yield str(pg_server.get_uri(name))
    await drop_database(pg_dsn, name)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def db(migrated_dsn: str) -> AsyncIterator[Database]:
    database = Database(migrated_dsn, min_size=4, max_size=60, statement_timeout_ms=10_000)
    await database.start()
    yield database
    await database.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def service_db(migrated_dsn: str) -> AsyncIterator[Database]:
    """A started ``Database`` logged in as the service's own role ``queueit_service`` (what the
    servers under test use): for the jobs the service runs outside requests."""
    database = Database(as_login_role(migrated_dsn, SERVICE_ROLE), min_size=1, max_size=8)
    await database.start()
    yield database
    await database.close()


# --- users and sessions ------------------------------------------------------------------------

UPSERT_PROFILE = """
insert into queueit.profiles (id, username, email) values ($1, $2, $3)
on conflict (id) do update set username = excluded.username, email = excluded.email
"""


@pytest.fixture
def new_user(db: Database) -> Callable[..., Awaitable[TestUser]]:
    async def factory(name: str = "user", *, database: Database | None = None) -> TestUser:
        user_id = uuid.uuid4()
        user = TestUser(user_id, name, claims_for(user_id, name))
        async with user.tx(database or db) as conn:
            await conn.execute(UPSERT_PROFILE, user_id, name, user.claims["email"])
        return user

    return factory


async def create_session(
    db: Database, host: TestUser, *, join_code: str | None = None, guests: Sequence[TestUser] = ()
) -> TestSession:
    """Create-and-join as the service does: one transaction, host member row, then guests."""
    async with host.tx(db) as conn:
        row = await conn.fetchrow(
            "insert into queueit.sessions (host_id, join_code)"
            " values ($1, coalesce($2, app.new_join_code()))"
            " on conflict (join_code) where ended_at is null do nothing"
            " returning id, join_code",
            host.id,
            join_code,
        )
        assert row is not None, "join code taken"
        await conn.execute(
            "insert into queueit.session_members (user_id, session_id, role) values ($1, $2,"
            " 'host')",
            host.id,
            row["id"],
        )
        # What the service writes on create: the host's `member_joined` (seq 1).
        await conn.execute(
            "select * from app.append_member_event($1, 'member_joined', $2)",
            row["id"],
            {"member": member_wire(host, "host")},
        )
    for guest in guests:
        async with guest.tx(db) as conn:
            await conn.execute("select app.join_by_code($1)", row["join_code"])
    return TestSession(row["id"], row["join_code"], host)


@pytest.fixture
def make_session(db: Database) -> Callable[..., Awaitable[TestSession]]:
    async def factory(
        host: TestUser,
        *,
        guests: Sequence[TestUser] = (),
        join_code: str | None = None,
        database: Database | None = None,
    ) -> TestSession:
        return await create_session(database or db, host, join_code=join_code, guests=guests)

    return factory
