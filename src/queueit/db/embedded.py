"""Embedded PostgreSQL (pgserver) for running without DATABASE_URL.

``EmbeddedPostgres.open(data_dir)`` starts (or reuses) a PostgreSQL server whose files live in
``data_dir/postgres``, creating the ``queueit`` database on first use; ``.dsn`` is its DSN. The
server listens on a unix socket only (no TCP port).

Lifecycle (the service's ``Runtime`` does all three):
- ``postmaster_alive()`` says whether the server process still runs; ``restart()`` starts it
  again on the same data and socket folder (same DSN), after crash recovery of the files. The
  supervisor (``queueit.db.supervisor``) calls these when the server dies.
- ``stop()`` releases this process's handle and stops the server when no other process holds
  one (pgserver counts handles per folder; a server another process started is left running for
  it). It must be called explicitly: pgserver's own stop runs at interpreter exit, which never
  happens after SIGTERM under uvicorn (it re-raises the signal once shut down, and the default
  handler ends the process without atexit).

All of this is blocking (a few seconds on a first start); from async code call it through
``asyncio.to_thread``. ``start_embedded(data_dir)`` is the one-call form (open, return the DSN).
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from queueit.config import Settings

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer

__all__ = [
    "DATABASE_NAME",
    "SERVICE_ROLE",
    "EmbeddedPostgres",
    "as_login_role",
    "resolve_dsn",
    "start_embedded",
]

log = logging.getLogger(__name__)

DATABASE_NAME = "queueit"
# The least-privilege login role the migrations create for the service (see
# supabase/migrations/*_service_login_role.sql).
SERVICE_ROLE = "queueit_service"

# After a kill -9 of the postmaster its backends notice and exit on their own, usually within
# milliseconds; a backend deep in a statement may take longer. Starting a new postmaster while
# one of them is still attached to the old shared memory would be refused (or, without the lock
# file, corrupt data), so restart() waits this long for them.
_ORPHANS_GONE_SECONDS = 15.0


class EmbeddedPostgres:
    """This process's handle on an embedded server (see module doc)."""

    def __init__(self, server: PostgresServer, database: str) -> None:
        self._server = server
        self._database = database
        self._lock = threading.Lock()  # restart() and stop() never overlap
        self._stopped = False
        self.dsn = str(server.get_uri(database))

    @classmethod
    def open(cls, data_dir: Path, database: str = DATABASE_NAME) -> EmbeddedPostgres:
        """Start the server in ``data_dir`` if needed and make sure ``database`` exists."""
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
            # psql reports SQL errors on stderr and still exits 0: a lost race with another
            # process creating the same database is harmless, the check below catches failures.
            server.psql(f'create database "{database}";')
            if "exists" not in server.psql(query):
                raise RuntimeError(f"could not create database {database!r} in {data_dir}")
        return cls(server, database)

    @property
    def pgdata(self) -> Path:
        return Path(self._server.pgdata)

    def postmaster_pid(self) -> int | None:
        """The pid in postmaster.pid, or None without one."""
        from pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return None if info is None else info.pid

    def postmaster_alive(self) -> bool:
        """True while the postmaster of this folder runs (a zombie, dead but not yet reaped by a
        container's init, counts as dead)."""
        pid = self.postmaster_pid()
        return pid is not None and _running(pid, self.pgdata)

    def restart(self) -> None:
        """Start the server again after it died; no-op when it already runs (another process of
        the same folder may have restarted it first)."""
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import
        from pgserver.postgres_server import PostgresServer
        from pgserver.utils import PostmasterInfo

        with self._lock, PostgresServer._lock:  # the lock pgserver takes across processes
            if self._stopped:
                raise RuntimeError("the embedded PostgreSQL was stopped")
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
            if info is not None and _running(info.pid, self.pgdata):
                self._server._postmaster_info = info
                return
            if info is not None:
                _wait_for_orphans(info.shmget_id)
                if _zombie(info.pid):
                    # Dead but not reaped (a container whose init does not reap): PostgreSQL
                    # would take the lock files' pid for a running postmaster and refuse to
                    # start. Nothing is attached to the old shared memory: they are stale.
                    _remove_stale_locks(self.pgdata, info.socket_dir, info.pid)
            socket_dir = info.socket_dir if info is not None and info.socket_dir else self.pgdata
            log.warning("embedded PostgreSQL: starting it again in %s", self.pgdata)
            try:
                args = ["-w", "-t", "60", "-o", '-h ""', "-o", f"-k {socket_dir}"]
                pg_ctl(
                    [*args, "-l", str(self._server.log), "start"],
                    pgdata=self.pgdata,
                    user=self._server.system_user,
                    timeout=90,
                )
            except subprocess.CalledProcessError as exc:
                raise RuntimeError(f"pg_ctl start failed (see {self._server.log})") from exc
            fresh = PostmasterInfo.read_from_pgdata(self.pgdata)
            if fresh is None or not _running(fresh.pid, self.pgdata):
                raise RuntimeError("the embedded PostgreSQL did not stay up after pg_ctl start")
            self._server._postmaster_info = fresh  # what pgserver's stop looks at

    def stop(self) -> None:
        """Release this process's handle; stop the server if it was the last (see module doc).

        The server to stop is the one running in the folder now: another process may have
        restarted it since this one looked (pgserver would look at the pid it saw at start, a
        dead one, and leave the new server running)."""
        from pgserver.utils import PostmasterInfo

        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
            if info is not None and _running(info.pid, self.pgdata):
                self._server._postmaster_info = info
            self._server._cleanup()


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start the embedded server in ``data_dir`` if needed; return the DSN of ``database``."""
    return EmbeddedPostgres.open(data_dir, database).dsn


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


def _running(pid: int, pgdata: Path) -> bool:
    """pid is a live (not zombie) postgres process of ``pgdata``: pids are reused."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return str(pgdata) in process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _remove_stale_locks(pgdata: Path, socket_dir: Path | None, pid: int) -> None:
    """Remove postmaster.pid and the socket lock files that name the dead postmaster ``pid``."""
    candidates = [pgdata / "postmaster.pid"]
    candidates += sorted((socket_dir or pgdata).glob(".s.PGSQL.*.lock"))
    for lock in candidates:
        try:
            owner = lock.read_text().split("\n", 1)[0].strip()
        except OSError:
            continue
        if owner == str(pid):
            lock.unlink(missing_ok=True)


def _zombie(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _wait_for_orphans(shmid: int | None) -> None:
    """Wait until no process is attached to the dead postmaster's shared memory segment."""
    if shmid is None:
        return
    deadline = time.monotonic() + _ORPHANS_GONE_SECONDS
    while _attached(shmid) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"old PostgreSQL backends still attached to shared memory {shmid}")
        time.sleep(0.05)


def _attached(shmid: int) -> int:
    """Processes attached to System V segment ``shmid`` (0 when it is gone; Linux only)."""
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return 0  # no procfs: PostgreSQL's own lock-file check is the only guard left
    for line in lines:
        fields = line.split()
        if len(fields) > 6 and fields[1] == str(shmid):
            return int(fields[6])
    return 0
