"""Migration runner, bootstrap, and invariants every migration must keep."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
from pathlib import Path

import asyncpg
import pytest
from pgserver.postgres_server import PostgresServer

from queueit.db import MigrationError, apply
from queueit.db.migrate import bootstrap_files, default_supabase_dir, migration_files

ALL_VERSIONS = [m.version for m in migration_files()]


async def empty_database(pg_server: PostgresServer, pg_dsn: str) -> str:
    name = f"queueit_m_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()
    return str(pg_server.get_uri(name))


async def recorded(dsn: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "select version, name from supabase_migrations.schema_migrations order by version"
        )
        return [(r["version"], r["name"]) for r in rows]
    finally:
        await conn.close()


def test_migration_files_are_well_formed() -> None:
    files = migration_files()
    assert len(files) >= 3
    assert [m.version for m in files] == sorted(m.version for m in files)
    assert bootstrap_files(), "bootstrap SQL is missing"


async def test_apply_twice_is_a_no_op(pg_server: PostgresServer, pg_dsn: str) -> None:
    dsn = await empty_database(pg_server, pg_dsn)
    assert await apply(dsn) == ALL_VERSIONS
    assert await apply(dsn) == []
    assert await recorded(dsn) == [(m.version, m.name) for m in migration_files()]


async def test_concurrent_apply_runs_each_migration_once(
    pg_server: PostgresServer, pg_dsn: str
) -> None:
    dsn = await empty_database(pg_server, pg_dsn)
    first, second, third = await asyncio.gather(apply(dsn), apply(dsn), apply(dsn))
    assert sorted(first + second + third) == ALL_VERSIONS
    assert len(await recorded(dsn)) == len(ALL_VERSIONS)


async def test_failed_migration_rolls_back_and_is_not_recorded(
    tmp_path: Path, pg_server: PostgresServer, pg_dsn: str
) -> None:
    supabase = tmp_path / "supabase"
    shutil.copytree(default_supabase_dir(), supabase)
    (supabase / "migrations" / "29990101000000_broken.sql").write_text(
        "create table public.half_done (id int);\nselect 1 / 0;\n"
    )
    dsn = await empty_database(pg_server, pg_dsn)
    with pytest.raises(MigrationError, match="29990101000000_broken"):
        await apply(dsn, supabase_dir=supabase)
    assert [v for v, _ in await recorded(dsn)] == ALL_VERSIONS
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("select to_regclass('public.half_done')") is None
    finally:
        await conn.close()


async def test_changed_migration_is_reported_not_rerun(
    tmp_path: Path, fresh_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    supabase = tmp_path / "supabase"
    shutil.copytree(default_supabase_dir(), supabase)
    first = sorted((supabase / "migrations").glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with caplog.at_level(logging.WARNING, logger="queueit.db.migrate"):
        assert await apply(fresh_dsn, supabase_dir=supabase) == []
    assert any("changed after it was applied" in r.getMessage() for r in caplog.records)


def test_misnamed_migration_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "add_things.sql").write_text("select 1;")
    with pytest.raises(MigrationError):
        migration_files(tmp_path)


async def test_bootstrap_is_idempotent_and_mirrors_supabase(fresh_dsn: str) -> None:
    sql = bootstrap_files()[0].read_text()
    conn = await asyncpg.connect(fresh_dsn)
    try:
        await conn.execute(sql)
        await conn.execute(sql)
        async with conn.transaction():
            await conn.execute(
                "select set_config('request.jwt.claims', $1, true)",
                '{"sub": "8d0e7a38-5d54-4f4a-9a38-0c7c7b3f4a11", "role": "authenticated",'
                ' "email": "a@example.test"}',
            )
            await conn.execute("set local role authenticated")
            row = await conn.fetchrow(
                "select auth.uid()::text as uid, auth.role() as role, auth.email() as email,"
                " auth.jwt() ->> 'email' as jwt_email, current_user as who"
            )
        assert dict(row) == {
            "uid": "8d0e7a38-5d54-4f4a-9a38-0c7c7b3f4a11",
            "role": "authenticated",
            "email": "a@example.test",
            "jwt_email": "a@example.test",
            "who": "authenticated",
        }
        roles = await conn.fetch(
            "select rolname, rolcanlogin from pg_roles"
            " where rolname in ('anon', 'authenticated', 'service_role') order by rolname"
        )
        assert [(r["rolname"], r["rolcanlogin"]) for r in roles] == [
            ("anon", False),
            ("authenticated", False),
            ("service_role", False),
        ]
    finally:
        await conn.close()


async def test_bootstrap_does_nothing_on_supabase(pg_server: PostgresServer, pg_dsn: str) -> None:
    dsn = await empty_database(pg_server, pg_dsn)
    sql = bootstrap_files()[0].read_text()
    conn = await asyncpg.connect(dsn)
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            # roles are cluster-wide: pretend to be Supabase only inside this transaction
            await conn.execute("create role supabase_admin nologin")
            await conn.execute(sql)
            assert await conn.fetchval("select to_regnamespace('auth')") is None
        finally:
            await tx.rollback()
        assert (
            await conn.fetchval("select count(*) from pg_roles where rolname = 'supabase_admin'")
            == 0
        )
    finally:
        await conn.close()


async def test_every_table_is_locked_down(migrated_dsn: str) -> None:
    conn = await asyncpg.connect(migrated_dsn)
    try:
        tables = await conn.fetch(
            "select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c"
            " where c.relnamespace = 'queueit'::regnamespace and c.relkind = 'r'"
        )
        assert len(tables) == 9
        for t in tables:
            assert t["relrowsecurity"] and t["relforcerowsecurity"], t["relname"]
        # anon: no privilege on anything of QueueIT, no access to its schemas
        leaks = await conn.fetch(
            "select c.relname, p.privilege from pg_class c,"
            " unnest(array['SELECT','INSERT','UPDATE','DELETE']) as p(privilege)"
            " where c.relnamespace = 'queueit'::regnamespace and c.relkind in ('r', 'v')"
            " and (has_table_privilege('anon', c.oid, p.privilege)"
            "      or case when p.privilege = 'DELETE' then false"
            "              else has_any_column_privilege('anon', c.oid, p.privilege) end)"
        )
        assert leaks == []
        assert await conn.fetchval("select has_schema_privilege('anon', 'app', 'USAGE')") is False
        # no function in app is executable by PUBLIC; every SECURITY DEFINER pins search_path
        public_exec = await conn.fetch(
            "select p.proname from pg_proc p,"
            " aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a"
            " where p.pronamespace = 'app'::regnamespace and a.grantee = 0"
            " and a.privilege_type = 'EXECUTE'"
        )
        assert public_exec == []
        unpinned = await conn.fetch(
            "select proname from pg_proc where pronamespace = 'app'::regnamespace and prosecdef"
            " and not coalesce(proconfig, '{}') @> array['search_path=\"\"']"
        )
        assert unpinned == []
        # fan-out and reaper: not for authenticated
        for fn in (
            "app.fetch_events(uuid, bigint, int)",
            "app.end_idle_sessions(interval, interval)",
            "app.prune_events(bigint)",
        ):
            assert (
                await conn.fetchval(
                    "select has_function_privilege('authenticated', $1, 'EXECUTE')", fn
                )
                is False
            ), fn
    finally:
        await conn.close()
