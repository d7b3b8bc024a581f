"""Embedded PostgreSQL (pgserver) for running without DATABASE_URL.

``start_embedded(data_dir)`` starts (or reuses) a PostgreSQL server whose files live in
``data_dir/postgres`` and returns the DSN of the ``queueit`` database on it, creating that database
on first use. The server listens on a unix socket only (no TCP port). It keeps running until the
process that started it exits (pgserver stops it at exit; a server already running for the same
folder, e.g. started by another process, is reused and left running).

All of this is blocking (a few seconds on a first start); from async code call it through
``asyncio.to_thread``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from queueit.config import Settings

__all__ = ["DATABASE_NAME", "SERVICE_ROLE", "as_login_role", "resolve_dsn", "start_embedded"]

DATABASE_NAME = "queueit"
# The least-privilege login role the migrations create for the service (see
# supabase/migrations/*_service_login_role.sql).
SERVICE_ROLE = "queueit_service"


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start the embedded server in ``data_dir`` if needed; return the DSN of ``database``."""
    # imported lazily: production never needs it
    from pgserver.postgres_server import get_server

    if not database.isidentifier() or not database.isascii() or len(database) > 63:
        raise ValueError(f"unsupported database name: {database!r}")
    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "postgres", cleanup_mode="stop")
    # database was checked above to be a plain identifier: safe to inline
    query = f"select 'exists' from pg_database where datname = '{database}';"  # noqa: S608
    if "exists" not in server.psql(query):
        # psql reports SQL errors on stderr and still exits 0: a lost race with another process
        # creating the same database is harmless, and the check below catches real failures.
        server.psql(f'create database "{database}";')
        if "exists" not in server.psql(query):
            raise RuntimeError(f"could not create database {database!r} in {data_dir}")
    return str(server.get_uri(database))


def resolve_dsn(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded server's DSN (started on demand)."""
    if settings.database_url is not None and settings.database_url.get_secret_value():
        return settings.database_url.get_secret_value()
    return start_embedded(settings.data_dir)


def as_login_role(dsn: str, role: str) -> str:
    """The same DSN with another user name (and no password): the embedded server trusts its
    unix socket, so the service logs in as ``role`` on the database the owner migrated."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))
