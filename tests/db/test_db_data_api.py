"""Play Supabase's Data API against the migrated database: nothing of QueueIT is reachable.

PostgREST (and pg_graphql through it) connects as `authenticator`, switches to `anon` or
`authenticated` with the caller's JWT claims, and serves the schemas listed in
supabase/config.toml `[api] schemas`. These tests do exactly that, as three kinds of caller — the
anon key, a signed-in outsider, a guest of a live session — against every table, view and
function in the exposed schemas and in every other schema the caller can use, and check that
nothing is writable and nothing of QueueIT readable. The local bootstrap reproduces Supabase's
grants and default privileges on `public`, so an object left there would be caught here.
"""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
import pytest

from queueit.db import as_login_role
from queueit.db.migrate import default_supabase_dir

CONFIG = tomllib.loads((default_supabase_dir() / "config.toml").read_text(encoding="utf-8"))
EXPOSED = list(CONFIG["api"]["schemas"])
PRIVATE = ("queueit", "app")
# Schemas Supabase itself provides to API roles; their objects are Supabase's, not ours.
SUPABASE_OWN = ("auth", "extensions", "pg_catalog", "information_schema")

Caller = tuple[str, dict[str, Any] | None]  # (role, claims)


def test_config_exposes_nothing_of_queueit() -> None:
    assert EXPOSED, "config.toml must pin [api] schemas"
    search = list(CONFIG["api"].get("extra_search_path", []))
    for schema in PRIVATE:
        assert schema not in EXPOSED and schema not in search, schema
    assert CONFIG["auth"]["enable_anonymous_sign_ins"] is True


@asynccontextmanager
async def data_api(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the database at `dsn` as PostgREST's `authenticator` login role."""
    conn = await asyncpg.connect(as_login_role(dsn, "authenticator"))
    try:
        yield conn
    finally:
        await conn.close()


async def request(
    conn: asyncpg.Connection, caller: Caller, sql: str, *args: Any
) -> tuple[str, Any]:
    """One Data-API request: its own transaction, role and claims as PostgREST sets them,
    the exposed schemas as search_path. ("ok", rows) or ("denied"/"error", sqlstate)."""
    role, claims = caller
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute(
            "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true),"
            " set_config('search_path', $3, true)",
            role,
            orjson.dumps(claims or {"role": role}).decode(),
            ", ".join(EXPOSED + list(CONFIG["api"].get("extra_search_path", []))),
        )
        try:
            return "ok", await conn.fetch(sql, *args)
        except asyncpg.InsufficientPrivilegeError:
            return "denied", "42501"
        except asyncpg.PostgresError as exc:
            return "error", exc.sqlstate
    finally:
        await tx.rollback()


async def relations_and_functions(
    conn: asyncpg.Connection, role: str | None, schemas: list[str]
) -> tuple[list[tuple[str, str, list[str]]], list[tuple[str, str, int]]]:
    """Every relation and function in `schemas` and, with a `role`, in every other schema that
    role may use, except PostgreSQL's and Supabase's own."""
    rows = await conn.fetch(
        "with ns as (select oid, nspname from pg_namespace n"
        "  where (coalesce(has_schema_privilege($1, n.oid, 'USAGE'), false)"
        "         or n.nspname = any($2::text[]))"
        "    and n.nspname <> all($3::text[]) and n.nspname not like 'pg\\_%')"
        " select 'rel' as kind, ns.nspname, c.relname as name, 0 as nargs,"
        "        array(select a.attname::text from pg_attribute a where a.attrelid = c.oid"
        "              and a.attnum > 0 and not a.attisdropped order by a.attnum) as cols"
        "   from pg_class c join ns on ns.oid = c.relnamespace"
        "  where c.relkind in ('r', 'v', 'm', 'f', 'p')"
        " union all"
        " select 'fn', ns.nspname, p.proname, p.pronargs, '{}'::text[]"
        "   from pg_proc p join ns on ns.oid = p.pronamespace where p.prokind = 'f'",
        role,
        schemas,
        list(SUPABASE_OWN),
    )
    return (
        [(r["nspname"], r["name"], list(r["cols"])) for r in rows if r["kind"] == "rel"],
        [(r["nspname"], r["name"], r["nargs"]) for r in rows if r["kind"] == "fn"],
    )


def _q(*parts: str) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


async def attack(
    conn: asyncpg.Connection, caller: Caller, schema: str, rel: str, cols: list[str]
) -> dict[str, tuple[str, Any]]:
    """Read, insert, update and delete on one relation, as the Data API would."""
    name = _q(schema, rel)
    first = _q(cols[0])
    return {
        "select": await request(conn, caller, f"select * from {name}"),  # noqa: S608
        "insert": await request(
            conn,
            caller,
            f"insert into {name} default values returning 1",  # noqa: S608
        ),
        "update": await request(
            conn,
            caller,
            f"update {name} set {first} = {first} returning 1",  # noqa: S608
        ),
        "delete": await request(conn, caller, f"delete from {name} returning 1"),  # noqa: S608
    }


@pytest.fixture
async def callers(
    new_user: Callable[..., Any], make_session: Callable[..., Any], db: Any
) -> dict[str, Caller]:
    """anon, a signed-in user in no session, a guest (with a party that has data to steal)."""
    host, guest, outsider = await new_user("host"), await new_user("guest"), await new_user("out")
    session = await make_session(host, guests=[guest])
    async with host.tx(db) as conn:  # a queued entry with a vote, so there are rows to find
        await conn.execute(
            "insert into queueit.tracks (id, name, artists, album, duration_ms, image_url)"
            " values ($1, 'T', 'A', 'B', 200000, 'https://i.example/x.jpg')",
            uuid.uuid4().hex[:22],
        )
    return {
        "anon": ("anon", None),
        "outsider": ("authenticated", outsider.claims),
        "guest": ("authenticated", guest.claims),
        "_session": ("", {"id": str(session.id), "code": session.join_code}),
    }


async def sweep(dsn: str, caller: Caller, schemas: list[str], *, usable: bool) -> int:
    """Try every verb on every relation and call every function in `schemas` (and, if
    `usable`, in every schema the caller's role may use); fail on anything that works.
    Returns the number of attempts."""
    admin = await asyncpg.connect(dsn)
    try:
        role = caller[0] if usable else None
        rels, fns = await relations_and_functions(admin, role, schemas)
    finally:
        await admin.close()
    tried = 0
    async with data_api(dsn) as conn:
        for schema, name, nargs in fns:
            args = ", ".join(["null"] * nargs)
            outcome = await request(conn, caller, f"select {_q(schema, name)}({args})")
            assert outcome[0] != "ok", f"{caller[0]} executed {schema}.{name}"
            tried += 1
        for schema, rel, cols in rels:
            for verb, (outcome, rows) in (await attack(conn, caller, schema, rel, cols)).items():
                assert outcome != "ok" or (verb == "select" and rows == []), (
                    f"{caller[0]} could {verb} {schema}.{rel}"
                )
                tried += 1
    return tried


async def test_the_anon_key_reaches_nothing(migrated_dsn: str, callers: dict[str, Caller]) -> None:
    """Every app holds the anon key: as anon, every table, view and function in the exposed
    schemas, QueueIT's private ones and any other schema anon may use is refused."""
    tried = await sweep(migrated_dsn, callers["anon"], EXPOSED + list(PRIVATE), usable=True)
    assert tried >= 10 * 4  # QueueIT's nine tables and one view at least


async def test_signed_in_users_reach_nothing_through_the_data_api(
    migrated_dsn: str, callers: dict[str, Caller]
) -> None:
    """With their own JWT, an outsider and a guest find no QueueIT relation or function in
    the exposed schemas (they are served nothing), and nothing there works for them."""
    for kind in ("outsider", "guest"):
        admin = await asyncpg.connect(migrated_dsn)
        try:
            rels, fns = await relations_and_functions(admin, None, EXPOSED)
        finally:
            await admin.close()
        served = [f"{s}.{r}" for s, r, _ in rels if s in EXPOSED]
        served += [f"{s}.{f}()" for s, f, _ in fns if s in EXPOSED]
        assert served == [], f"{kind}: the Data API would serve {served}"
        await sweep(migrated_dsn, callers[kind], EXPOSED, usable=False)


async def test_a_table_added_to_public_later_is_not_served(fresh_dsn: str) -> None:
    """Supabase grants anon and authenticated ALL on new objects in `public` by default; the
    migrations revoke that for their role, so a later migration's table there leaks nothing."""
    admin = await asyncpg.connect(fresh_dsn)
    try:
        await admin.execute(
            "set role queueit_owner;"
            " create table public.later (id int primary key, secret text);"
            " insert into public.later values (1, 'x');"
            " create function public.later_fn() returns int language sql as 'select 1';"
            " reset role;"
        )
    finally:
        await admin.close()
    async with data_api(fresh_dsn) as conn:
        for caller in (("anon", None), ("authenticated", {"sub": str(uuid.uuid4())})):
            for sql in (
                "select * from public.later",
                "insert into public.later values (2, 'y')",
                "update public.later set secret = 'z'",
                "delete from public.later",
                "select public.later_fn()",
            ):
                assert (await request(conn, caller, sql))[0] == "denied", (caller[0], sql)


async def test_membership_needs_the_join_code(
    migrated_dsn: str, callers: dict[str, Caller]
) -> None:
    """A signed-in user who knows only a session's id cannot make themselves a member, even
    with direct SQL as `authenticated` (the service's own role); the code lets them in."""
    info = callers["_session"][1]
    assert info is not None
    outsider = callers["outsider"]
    async with data_api(migrated_dsn) as conn:
        for role in ("guest", "cohost", "host"):
            outcome = await request(
                conn,
                outsider,
                "insert into queueit.session_members (user_id, session_id, role)"
                " values (auth.uid(), $1, $2)",
                uuid.UUID(info["id"]),
                role,
            )
            assert outcome == ("denied", "42501"), role
        wrong = await request(conn, outsider, "select app.join_by_code('ZZZZZZ')")
        assert wrong[0] == "ok" and wrong[1][0][0] is None
        right = await request(conn, outsider, "select app.join_by_code($1)", info["code"])
        assert right[0] == "ok" and str(right[1][0][0]) == info["id"]


async def test_roles_are_those_of_supabase(migrated_dsn: str) -> None:
    """The migration owner is no superuser but bypasses RLS (Supabase's `postgres`), owns every
    QueueIT object, and the API roles have Supabase's attributes."""
    conn = await asyncpg.connect(migrated_dsn)
    try:
        roles = {
            r["rolname"]: r
            for r in await conn.fetch(
                "select rolname, rolsuper, rolbypassrls, rolcanlogin, rolinherit, rolcreaterole"
                " from pg_roles where rolname = any($1::text[])",
                ["queueit_owner", "anon", "authenticated", "service_role", "authenticator"],
            )
        }
        owner = roles["queueit_owner"]
        assert not owner["rolsuper"] and owner["rolbypassrls"] and owner["rolcreaterole"]
        assert roles["service_role"]["rolbypassrls"] and not roles["authenticated"]["rolbypassrls"]
        assert roles["authenticator"]["rolcanlogin"] and not roles["authenticator"]["rolinherit"]
        assert not any(roles[r]["rolcanlogin"] for r in ("anon", "authenticated", "service_role"))
        owners = await conn.fetch(
            "select distinct pg_get_userbyid(c.relowner) as o from pg_class c"
            " where c.relnamespace = 'queueit'::regnamespace"
            " union select distinct pg_get_userbyid(p.proowner) from pg_proc p"
            " where p.pronamespace = 'app'::regnamespace"
        )
        assert [r["o"] for r in owners] == ["queueit_owner"]
        # Supabase's default privileges on public are reproduced for the superuser's objects
        assert (
            await conn.fetchval(
                "select count(distinct d.defaclobjtype)"
                "  from pg_default_acl d, aclexplode(d.defaclacl) a"
                " where d.defaclnamespace = 'public'::regnamespace"
                " and d.defaclrole = 'postgres'::regrole and a.grantee = 'anon'::regrole"
            )
            == 3
        )
    finally:
        await conn.close()


async def test_the_service_login_role_has_least_privilege(
    migrated_dsn: str, service_db: Any, new_user: Callable[..., Any], make_session: Any
) -> None:
    """`queueit_service` logs in and may become `authenticated`; by itself it reads no table,
    bypasses nothing, and runs only the four functions of the fan-out and the reaper."""
    host = await new_user("host")
    session = await make_session(host)
    conn = await asyncpg.connect(migrated_dsn)
    try:
        role = await conn.fetchrow(
            "select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin, rolinherit"
            " from pg_roles where rolname = 'queueit_service'"
        )
    finally:
        await conn.close()
    assert role["rolcanlogin"] and not role["rolinherit"]
    assert not (role["rolsuper"] or role["rolbypassrls"] or role["rolcreaterole"])
    assert not role["rolcreatedb"]
    async with service_db.system_conn() as c:
        assert await c.fetchval("select current_user") == "queueit_service"
        for table in ("sessions", "session_members", "profiles", "session_events"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await c.fetch(f"select 1 from queueit.{table} limit 1")  # noqa: S608
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await c.fetch("select app.join_by_code('ABCDEF')")
        rows = await c.fetch("select * from app.latest_seqs($1::uuid[])", [session.id])
        assert [(r["session_id"], r["last_seq"]) for r in rows] == [(session.id, 1)]
        events = await c.fetch("select seq from app.fetch_events($1, 0, 10)", session.id)
        assert [e["seq"] for e in events] == [1]
    async with host.tx(service_db) as c:  # a request: SET ROLE authenticated, RLS decides
        assert await c.fetchval("select count(*) from queueit.sessions where id = $1", session.id)
