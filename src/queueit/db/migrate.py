"""Apply supabase/bootstrap and supabase/migrations to a database.

``await apply(dsn)``:

1. takes a session advisory lock, so several processes starting at once apply each migration
   exactly once (the others wait, then find nothing left to do);
2. on plain PostgreSQL runs ``supabase/bootstrap/*.sql`` (roles, ``auth`` schema and functions
   that Supabase provides; idempotent). Skipped on Supabase, detected by the role
   ``supabase_admin``; the SQL itself checks that again;
3. runs every ``supabase/migrations/<version>_<name>.sql`` not yet recorded, in version order,
   each in its own transaction together with its record.

Applied versions are recorded in ``supabase_migrations.schema_migrations`` — the table the Supabase
CLI uses — so `queueit migrate` and `supabase db push` agree on what has been applied, whichever
ran first. The file text is stored in ``statements``; a recorded migration whose file has changed
since is reported (logged), never re-run: write a new migration instead.

Run it as the owner role: ``postgres`` on Supabase; on plain PostgreSQL a superuser, which runs
the bootstrap and then the migrations as ``queueit_owner`` (see ``_become_owner``). The SECURITY
DEFINER functions rely on the owner bypassing RLS.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from queueit.db.errors import DatabaseUnavailable, MigrationError, is_connection_error

__all__ = ["Migration", "apply", "bootstrap_files", "default_supabase_dir", "migration_files"]

logger = logging.getLogger(__name__)

# pg_advisory_lock key: "queueit migrate" (any constant shared by all instances works)
ADVISORY_LOCK_KEY = 0x51756575_4D696772

_MIGRATION_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")

_TRACKING_DDL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text not null primary key,
  statements text[],
  name text
);
"""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def default_supabase_dir() -> Path:
    """``$QUEUEIT_SUPABASE_DIR`` or the ``supabase/`` folder of this checkout."""
    override = os.environ.get("QUEUEIT_SUPABASE_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "supabase"


def migration_files(supabase_dir: Path | None = None) -> list[Migration]:
    """The migrations in version order; a misnamed .sql file is an error, not silently skipped."""
    folder = (supabase_dir or default_supabase_dir()) / "migrations"
    if not folder.is_dir():
        raise MigrationError(f"no migrations folder at {folder}")
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"migration file name must be <14 digits>_<name>.sql: {path.name}")
        found.append(Migration(match["version"], match["name"], path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version")
    return found


def bootstrap_files(supabase_dir: Path | None = None) -> list[Path]:
    folder = (supabase_dir or default_supabase_dir()) / "bootstrap"
    return sorted(folder.glob("*.sql")) if folder.is_dir() else []


async def is_supabase(conn: asyncpg.Connection) -> bool:
    query = "select exists (select 1 from pg_roles where rolname = 'supabase_admin')"
    return bool(await conn.fetchval(query))


async def apply(dsn: str, *, supabase_dir: Path | None = None) -> list[str]:
    """Bring the database at ``dsn`` up to date. Returns the versions applied by this call."""
    migrations = migration_files(supabase_dir)
    bootstrap = bootstrap_files(supabase_dir)
    try:
        conn = await asyncpg.connect(
            dsn,
            timeout=10,
            server_settings={"application_name": "queueit-migrate", "statement_timeout": "0"},
        )
    except Exception as exc:
        if is_connection_error(exc):
            raise DatabaseUnavailable(f"cannot connect to run migrations: {exc}") from exc
        raise
    try:
        await conn.execute("select pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
        try:
            return await _apply_locked(conn, migrations, bootstrap)
        finally:
            await conn.execute("select pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
    finally:
        await conn.close()


async def _apply_locked(
    conn: asyncpg.Connection, migrations: list[Migration], bootstrap: list[Path]
) -> list[str]:
    if await is_supabase(conn):
        logger.info("Supabase database detected: bootstrap skipped")
    else:
        for path in bootstrap:
            async with conn.transaction():
                await conn.execute(path.read_text(encoding="utf-8"))
        await _become_owner(conn)
    await _warn_without_bypassrls(conn)

    async with conn.transaction():
        await conn.execute(_TRACKING_DDL)
    rows = await conn.fetch("select version, statements from supabase_migrations.schema_migrations")
    recorded: dict[str, list[str] | None] = {r["version"]: r["statements"] for r in rows}

    applied: list[str] = []
    for migration in migrations:
        sql = migration.sql
        if migration.version in recorded:
            stored = recorded[migration.version]
            if stored is not None and len(stored) == 1 and stored[0] != sql:
                logger.warning(
                    "migration %s changed after it was applied; not re-run", migration.path.name
                )
            continue
        logger.info("applying migration %s", migration.path.name)
        try:
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, name, statements)"
                    " values ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    [sql],
                )
        except asyncpg.PostgresError as exc:
            raise MigrationError(f"migration {migration.path.name} failed: {exc}") from exc
        applied.append(migration.version)
    return applied


async def _become_owner(conn: asyncpg.Connection) -> None:
    """On plain PostgreSQL, run the migrations as ``queueit_owner`` (the bootstrap's stand-in for
    Supabase's non-superuser ``postgres``), so they are owned and tested as on Supabase.

    A database migrated before that role existed has its objects owned by the superuser, which
    the owner role cannot alter; it keeps being migrated as the superuser (delete
    ``.queueit-data`` to start over as on Supabase)."""
    legacy = await conn.fetchval(
        "select exists (select 1 from pg_namespace where nspname = 'app'"
        " and nspowner <> 'queueit_owner'::regrole)"
    )
    if legacy:
        logger.warning(
            "database objects are owned by %s, not queueit_owner: migrating as that role",
            await conn.fetchval("select current_user"),
        )
        return
    await conn.execute("set role queueit_owner")


async def _warn_without_bypassrls(conn: asyncpg.Connection) -> None:
    ok = await conn.fetchval(
        "select rolsuper or rolbypassrls from pg_roles where rolname = current_user"
    )
    if not ok:
        logger.warning(
            "role %s has neither SUPERUSER nor BYPASSRLS: the SECURITY DEFINER functions it owns"
            " will be subject to RLS (FORCE ROW LEVEL SECURITY) and will not work",
            await conn.fetchval("select current_user"),
        )
