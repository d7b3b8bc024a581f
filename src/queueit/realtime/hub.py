"""`RealtimeHub`: one per process; fans every session's events out to the sockets held here.

Flow of one change (DESIGN §5):

1. The service commits a transaction that called `app.append_event` (seq N), then calls
   `hub.publish(session_id, N)` — after the commit, outside any user transaction.
2. `publish` wakes the session's channel here at once, and adds (session, N) to the NOTIFY batch.
   The notifier coalesces the batch for a few milliseconds (one entry per session, the highest
   seq) and sends it with one `pg_notify` statement on its own connection, so the commit lock
   NOTIFY takes is never on a request's write path and is taken once per batch, not per change.
3. Every process LISTENs on a dedicated connection. A notification carries only session ids and
   seqs; a process with subscribers of that session wakes its channel.
4. A woken channel's pump fetches the new rows once per session (`app.fetch_events`, on a few
   connections of the hub's own, not the request pool), encodes each event once and hands the
   same string to every local subscriber, strictly in seq order.
   Subscribers dedupe by seq, so the same wake-up arriving from publish, NOTIFY and the poll is
   harmless, and a pump that finds rows missing (pruned) makes affected subscribers start over.

Safety net: a crash between commit and publish (or a lost notification, or a LISTEN connection
that dropped) would lose a wake-up, so every `poll_interval` seconds the hub compares
`sessions.last_seq` of the sessions it has subscribers for with what it delivered, and fetches
anything missing. Delivery is by seq ranges, so a gap is always filled from the table.

Lifecycle (the app's Runtime does this):

    hub = RealtimeHub(settings, db, verifier, snapshot_loader=load_current_session)
    await hub.start()          # never fails because the database is down; retries by itself
    app.state.realtime_hub = hub
    ...
    hub.publish(session_id, seq)   # after every commit that appended events
    ...
    await hub.stop()           # closes sockets with 1001, stops tasks and connections

Retention: `since` older than `settings.events_retained` events gets a snapshot whatever is still
in the table; deleting old rows is the idle reaper's job (`app.prune_events`), or pass
`prune_interval` to let the hub do it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Generator
from typing import Any
from uuid import UUID

from queueit.auth.verifier import TokenVerifier
from queueit.config import Settings
from queueit.db import Connection, Database
from queueit.http.rate_limits import Limits
from queueit.logging_setup import Throttle
from queueit.realtime import logs, store
from queueit.realtime.caps import SocketCaps
from queueit.realtime.connections import ReadConnections
from queueit.realtime.events import WireEvent
from queueit.realtime.loader import SnapshotLoader
from queueit.realtime.protocol import CloseCode, ping_message
from queueit.realtime.subscriber import SendText, State, Subscriber

logger = logging.getLogger("queueit.realtime")


class _Channel:
    """A session with local subscribers. `delivered` is the last seq fanned out (None until the
    first subscriber went live), `target` the highest seq known to exist."""

    __slots__ = ("delivered", "pump", "session_id", "subs", "target")

    def __init__(self, session_id: UUID) -> None:
        self.session_id = session_id
        self.subs: set[Subscriber] = set()
        self.delivered: int | None = None
        self.target = 0
        self.pump: asyncio.Task[None] | None = None


class RealtimeHub:
    """Local subscriber registry, per-session fan-out, cross-process LISTEN/NOTIFY."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        verifier: TokenVerifier,
        snapshot_loader: SnapshotLoader | None = None,
        *,
        notify_delay: float = 0.003,
        poll_interval: float = 1.5,
        prune_interval: float | None = None,
        auth_timeout: float = 10.0,
        close_timeout: float = 10.0,
        idle_timeout: float | None = None,
        fetch_limit: int = 500,
        read_connections: int = 3,
        limits: Limits | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.verifier = verifier
        self.snapshot_loader = snapshot_loader
        self.heartbeat = settings.ws_heartbeat_seconds
        # "A connection that sends nothing for 60 seconds is closed with 4008": three missed
        # pongs at the default 20 s heartbeat.
        self.idle_timeout = idle_timeout if idle_timeout is not None else 3 * self.heartbeat
        self.auth_timeout = auth_timeout
        # the process's rate limits (failed authentications, sockets without a token); a hub
        # without the service's closes the ones it made
        self._owns_limits = limits is None
        self.limits = limits if limits is not None else Limits.from_settings(settings)
        self.caps = SocketCaps(
            settings.ws_max_per_user,
            settings.ws_max_per_address,
            settings.ws_max_unauthenticated_per_address,
            self.limits.budgets.redis,
        )
        self.close_timeout = close_timeout
        self.notify_delay = notify_delay
        self.poll_interval = poll_interval
        self.prune_interval = prune_interval
        self.fetch_limit = fetch_limit
        # Fan-out reads use connections of their own, never the request pool (see connections).
        self._reads = ReadConnections(db, read_connections)
        self._channels: dict[UUID, _Channel] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._notify_pending: dict[UUID, int] = {}
        self._notify_wake = asyncio.Event()
        self._poll_wake = asyncio.Event()
        self._running = False
        self._listening = False
        self._warned = Throttle(30.0)
        self.stats = HubStats()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        logs.install()  # uvicorn would log `?access_token=...` of WebSocket upgrades
        self._spawn(self._listen_loop(), "listen")
        self._spawn(self._notify_loop(), "notify")
        self._spawn(self._poll_loop(), "poll")
        self._spawn(self._heartbeat_loop(), "heartbeat")
        if self.caps.shared:
            self._spawn(self.caps.renew_forever(), "socket-caps-leases")
        if self.prune_interval:
            self._spawn(self._prune_loop(self.prune_interval), "prune")

    async def stop(self) -> None:
        """Close every socket with 1001 (reconnect with `since`), then stop the tasks."""
        if not self._running:
            return
        self._running = False
        subs = [sub for ch in self._channels.values() for sub in ch.subs]
        for sub in subs:
            sub.close_after(CloseCode.GOING_AWAY)
        writers = [s.writer for s in subs if s.writer is not None and not s.writer.done()]
        if writers:
            await asyncio.wait(writers, timeout=2.0)
        await self._flush_notifications()
        tasks, self._tasks = self._tasks, []
        for ch in self._channels.values():
            if ch.pump is not None:
                tasks.append(ch.pump)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._owns_limits:
            await self.limits.budgets.close()
        self._reads.close()

    @property
    def running(self) -> bool:
        return self._running

    @property
    def listening(self) -> bool:
        """True while the LISTEN connection is up (for health checks)."""
        return self._listening

    def _warn(self, key: str, message: str, *args: object) -> None:
        """A warning at most every 30 s per kind: an outage must not flood the log."""
        if self._warned.ready(key):
            logger.warning(message, *args)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=f"realtime-{name}"))

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, session_id: UUID | str, seq: int) -> Published:
        """Announce that `seq` of the session is committed. Call after COMMIT, never inside a
        transaction; never blocks. Local subscribers are served at once; other processes hear
        of it through a batched NOTIFY a few milliseconds later.

        Synchronous: the work is done when it returns. The returned object may be awaited (it
        completes at once), so `hub.publish(...)` and `await hub.publish(...)` both work."""
        sid = session_id if isinstance(session_id, UUID) else UUID(str(session_id))
        self.stats.published += 1
        self._wake(sid, int(seq))
        if self._running:
            if seq > self._notify_pending.get(sid, 0):
                self._notify_pending[sid] = int(seq)
            self._notify_wake.set()
        return PUBLISHED

    def _wake(self, session_id: UUID, seq: int) -> None:
        ch = self._channels.get(session_id)
        if ch is None:
            return
        if seq > ch.target:
            ch.target = seq
        self._kick(ch)

    def _kick(self, ch: _Channel) -> None:
        if ch.pump is not None or ch.delivered is None or not ch.subs:
            return
        if ch.target > ch.delivered:
            ch.pump = asyncio.create_task(self._pump(ch))

    # -- subscribers --------------------------------------------------------------------------

    def register(self, session_id: UUID, user_id: UUID) -> Subscriber:
        """Subscribe BEFORE reading the snapshot: live events are buffered from here on."""
        now = asyncio.get_running_loop().time()
        sub = Subscriber(session_id, user_id, self.settings.ws_send_buffer, self.close_timeout, now)
        ch = self._channels.get(session_id)
        if ch is None:
            ch = self._channels[session_id] = _Channel(session_id)
        ch.subs.add(sub)
        return sub

    def unregister(self, sub: Subscriber) -> None:
        ch = self._channels.get(sub.session_id)
        if ch is None:
            return
        ch.subs.discard(sub)
        if not ch.subs and ch.pump is None:
            del self._channels[sub.session_id]

    async def activate(
        self, sub: Subscriber, start_seq: int, live_from: int, send: SendText
    ) -> None:
        """Bring a PENDING subscriber from `start_seq` (where its snapshot/replay ended) to LIVE.

        Buffered live events at or below `start_seq` are dropped. A backlog — buffered events
        beyond what its queue should take at once, or a gap between `start_seq` and the stream
        (possible when the stream started from another subscriber's newer snapshot, or the
        buffer was dropped) — is sent directly with `send`, in order, from the buffer or the
        table, before the subscriber joins the bounded live path. `live_from`: events above it
        may close the socket (kick/ban/leave/end of this user).
        """
        sub.live_from = live_from
        ch = self._channels.get(sub.session_id)
        at = start_seq
        chunk = max(1, sub.limit // 2)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.close_timeout
        while sub.state is State.PENDING and ch is not None:
            if loop.time() > deadline:
                sub.cut_off(CloseCode.TOO_SLOW)  # the stream outruns this client
                break
            pending = [e for e in sub.pending if e.seq > at]
            if pending and pending[0].seq == at + 1 and len(pending) > chunk:
                at = await self._send_direct(sub, sub.take_pending(at, chunk), send, at)
                continue
            if pending:
                upto = pending[0].seq - 1
            else:
                upto = ch.delivered if ch.delivered is not None else at
            if upto > at:
                gap = await self._fetch_range(sub.session_id, at, min(upto, at + self.fetch_limit))
                if sub.state is not State.PENDING:
                    break
                if gap is None:
                    sub.cut_off(CloseCode.INTERNAL_ERROR)  # no longer kept: start over
                    break
                at = await self._send_direct(sub, gap, send, at)
                continue
            if ch.delivered is None:
                ch.delivered = at
                ch.target = max(ch.target, at)
            for event in sub.go_live(at):
                sub.deliver(event)
            self._kick(ch)
            break

    @staticmethod
    async def _send_direct(
        sub: Subscriber, events: list[WireEvent], send: SendText, at: int
    ) -> int:
        for event in events:
            if event.seq <= at:
                continue
            await send(event.text_for(sub.user_id))
            at = event.seq
            code = event.close_code_for(sub.user_id) if event.seq > sub.live_from else None
            if code is not None:
                sub.close_after(code)
                break
        return at

    async def _fetch_range(self, session_id: UUID, after: int, upto: int) -> list[WireEvent] | None:
        """Events after..upto from the table, or None when some are no longer kept."""
        events: list[WireEvent] = []
        cursor = after
        while cursor < upto:
            async with self._reads.acquire() as conn:
                rows = await store.system_events_after(
                    conn, session_id, cursor, min(upto - cursor, 10_000)
                )
            for row in rows:
                if row["seq"] != cursor + 1:
                    return None
                events.append(WireEvent.from_row(session_id, row))
                cursor += 1
            if not rows:
                return None
        return events

    def subscriber_count(self, session_id: UUID | None = None) -> int:
        if session_id is not None:
            ch = self._channels.get(session_id)
            return len(ch.subs) if ch else 0
        return sum(len(ch.subs) for ch in self._channels.values())

    # -- the pump: one fetch per session, one encoding per event ------------------------------

    async def _pump(self, ch: _Channel) -> None:
        failures = 0
        try:
            while self._running and ch.subs and ch.delivered is not None:
                after = ch.delivered
                if ch.target <= after:
                    break
                try:
                    async with self._reads.acquire() as conn:
                        rows = await store.system_events_after(
                            conn, ch.session_id, after, self.fetch_limit
                        )
                except Exception as exc:
                    failures += 1
                    self._warn("fetch", "realtime: fetching events failed (%s); retrying", exc)
                    await asyncio.sleep(min(0.1 * 2**failures, 2.0))
                    continue
                failures = 0
                self.stats.fetches += 1
                if not rows:
                    ch.target = after  # nothing there yet; the poll will tell us again
                    break
                await self._fan_out(ch, rows)
        finally:
            ch.pump = None
            if not ch.subs:
                self._channels.pop(ch.session_id, None)
            elif self._running:
                self._kick(ch)

    async def _fan_out(self, ch: _Channel, rows: list[Any]) -> None:
        assert ch.delivered is not None
        # A burst bigger than a send buffer is handed out in slices, yielding in between so
        # the writers drain: the buffer bounds a consumer's backlog, not a transaction's size.
        chunk = max(1, self.settings.ws_send_buffer // 2)
        handed = 0
        for row in rows:
            seq = int(row["seq"])
            if seq <= ch.delivered:
                continue
            if handed == chunk:
                await asyncio.sleep(0)
                handed = 0
            event = WireEvent.from_row(ch.session_id, row)
            # A gap (rows pruned before we fetched them) is handled by each subscriber: live
            # ones see seq > last+1 and are told to start over.
            for sub in ch.subs:
                sub.deliver(event)
            ch.delivered = seq
            handed += 1
            self.stats.events += 1
            self.stats.deliveries += len(ch.subs)
        if ch.delivered > ch.target:
            ch.target = ch.delivered

    # -- NOTIFY (batched, own connection) -----------------------------------------------------

    async def _notify_loop(self) -> None:
        conn: Connection | None = None
        failures = 0
        try:
            while True:
                await self._notify_wake.wait()
                await asyncio.sleep(self.notify_delay)  # coalesce: one entry per session
                self._notify_wake.clear()
                batch, self._notify_pending = self._notify_pending, {}
                if not batch:
                    continue
                try:
                    if conn is None or conn.is_closed():
                        conn = await self.db.connect_dedicated()
                    await self._send_notifications(conn, batch)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    logger.warning("realtime: NOTIFY failed (%s); retrying", exc)
                    for sid, seq in batch.items():
                        if seq > self._notify_pending.get(sid, 0):
                            self._notify_pending[sid] = seq
                    if conn is not None:
                        conn.terminate()
                        conn = None
                    self._notify_wake.set()
                    await asyncio.sleep(min(0.1 * 2**failures, 5.0))
        finally:
            if conn is not None:
                conn.terminate()

    async def _send_notifications(self, conn: Connection, batch: dict[UUID, int]) -> None:
        payloads = store.notify_payloads(batch)
        # One statement, one implicit transaction: the NOTIFY commit lock is taken once.
        await conn.execute(
            "select pg_notify($1, p) from unnest($2::text[]) as p", store.NOTIFY_CHANNEL, payloads
        )
        self.stats.notifies += 1

    async def _flush_notifications(self) -> None:
        batch, self._notify_pending = self._notify_pending, {}
        if not batch:
            return
        try:
            conn = await self.db.connect_dedicated()
            try:
                await self._send_notifications(conn, batch)
            finally:
                await conn.close()
        except Exception as exc:
            logger.warning("realtime: final NOTIFY failed (%s)", exc)

    # -- LISTEN -------------------------------------------------------------------------------

    def _on_notification(self, conn: object, pid: int, channel: str, payload: str) -> None:
        self.stats.notifications += 1
        for sid, seq in store.parse_notify_payload(payload):
            self._wake(sid, seq)

    async def _listen_loop(self) -> None:
        failures = 0
        while True:
            conn: Connection | None = None
            try:
                conn = await self.db.connect_dedicated()
                await conn.add_listener(store.NOTIFY_CHANNEL, self._on_notification)
                self._listening = True
                failures = 0
                # Anything committed while we were not listening is found by a poll.
                self._poll_wake.set()
                while True:
                    await asyncio.sleep(5.0)
                    await asyncio.wait_for(conn.fetchval("select 1"), 5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    logger.warning("realtime: LISTEN connection lost (%s); reconnecting", exc)
            finally:
                self._listening = False
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(min(0.2 * 2**failures, 5.0))

    # -- safety net: poll sessions.last_seq ---------------------------------------------------

    async def _poll_loop(self) -> None:
        failures = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poll_wake.wait(), self.poll_interval)
            self._poll_wake.clear()
            try:
                await self.poll_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 40 == 0:  # an outage: once a minute, not 40 times
                    logger.warning("realtime: polling last_seq failed (%s)", exc)

    async def poll_once(self) -> None:
        """Compare `sessions.last_seq` with what was delivered, for every local session."""
        ids = [sid for sid, ch in self._channels.items() if ch.delivered is not None]
        if not ids:
            return
        async with self._reads.acquire() as conn:
            latest = await store.latest_seqs(conn, ids)
        self.stats.polls += 1
        for sid, seq in latest.items():
            ch = self._channels.get(sid)
            if ch is not None and ch.delivered is not None and seq > ch.delivered:
                if seq > ch.target:
                    self.stats.poll_catches += 1
                self._wake(sid, seq)

    # -- heartbeats and idle timeout ----------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        tick = max(0.05, min(1.0, self.heartbeat / 4))
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            ping: str | None = None
            for ch in list(self._channels.values()):
                for sub in ch.subs:
                    if sub.state is not State.LIVE:
                        continue
                    sub.retire_idle_writer(now)
                    if now >= sub.expires_at:
                        sub.close_after(CloseCode.TOKEN_EXPIRED)
                    elif now - sub.last_recv > self.idle_timeout:
                        sub.close_after(CloseCode.IDLE)
                    elif now >= sub.next_ping:
                        # Spread over the connect times of the sockets: no ping storm.
                        ping = ping or ping_message()
                        sub.next_ping = now + self.heartbeat
                        sub.offer(ping)

    # -- retention ----------------------------------------------------------------------------

    async def _prune_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.db.system_conn() as conn:
                    deleted = await store.prune_events(conn, self.settings.events_retained)
                if deleted:
                    logger.info("realtime: pruned %d old events", deleted)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("realtime: pruning events failed (%s)", exc)


class Published:
    """What `publish` returns: already complete, awaitable for callers that await it."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # a generator that finishes at once


PUBLISHED = Published()


class HubStats:
    """Counters for benchmarks and debugging."""

    __slots__ = (
        "deliveries",
        "events",
        "fetches",
        "notifications",
        "notifies",
        "poll_catches",
        "polls",
        "published",
    )

    def __init__(self) -> None:
        self.published = 0
        self.fetches = 0
        self.events = 0
        self.deliveries = 0
        self.notifies = 0
        self.notifications = 0
        self.polls = 0
        self.poll_catches = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}
