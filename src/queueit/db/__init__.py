"""QueueIT database layer: pool, RLS-scoped transactions, migrations, embedded PostgreSQL.

    dsn = resolve_dsn(settings)            # DATABASE_URL, or starts the embedded pgserver
    await apply(dsn)                       # migrations (`queueit migrate`; at start when embedded)
    db = Database.from_settings(settings, dsn)
    await db.start()
    async with db.user_tx(user_id, claims) as conn:   # role authenticated, RLS applies
        ...

See docs/data-model.md for the schema, the policies and the SQL functions.
"""

from queueit.db.codes import generate_join_code, normalize_join_code
from queueit.db.embedded import SERVICE_ROLE, as_login_role, resolve_dsn, start_embedded
from queueit.db.errors import DatabaseError, DatabaseTimeout, DatabaseUnavailable, MigrationError
from queueit.db.migrate import apply
from queueit.db.pool import Connection, Database

__all__ = [
    "SERVICE_ROLE",
    "Connection",
    "Database",
    "DatabaseError",
    "DatabaseTimeout",
    "DatabaseUnavailable",
    "MigrationError",
    "apply",
    "as_login_role",
    "generate_join_code",
    "normalize_join_code",
    "resolve_dsn",
    "start_embedded",
]
