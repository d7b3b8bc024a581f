"""Sessions: the product rules of creating, joining, leaving, ending and playing.

Every function takes the request's open transaction (`Tx`) and never commits: the endpoint does.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from queueit_contract.models import (
    CreateSessionRequest,
    CurrentSessionResponse,
    HistoryResponse,
    JoinSessionRequest,
    LeaveSessionResponse,
    Member,
    MemberJoinedEventData,
    MemberLeftEventData,
    Playback,
    PlaybackAction,
    PlaybackChangedEventData,
    PlaybackState,
    QueuedSong,
    SessionSettingsUpdate,
    SessionStatus,
    SkipVoteResponse,
    SkipVotesUpdatedEventData,
)

from queueit.db import generate_join_code, normalize_join_code
from queueit.events import repository as events
from queueit.http.problems import (
    Conflict,
    Forbidden,
    NotFound,
    ProblemError,
    ValidationFailed,
    field_error,
)
from queueit.kit.tx import Tx
from queueit.sessions import read_repository, repository
from queueit.sessions.repository import Membership
from queueit.sessions.snapshot import load_current_session, load_my_session, refusal_for

GENERATED_CODE_ATTEMPTS = 20
REASON_HOST_ENDED = "host_ended"
REASON_EMPTY = "empty"

# Settings that may not be null (the others use null for "no limit").
_NOT_NULLABLE = (
    "queue_locked",
    "allow_downvotes",
    "allow_explicit",
    "skip_vote_share",
    "skip_vote_min",
)


def not_in_session() -> ProblemError:
    return NotFound("not_in_session", "You are not in a session.")


def song_not_found() -> ProblemError:
    return NotFound("song_not_found", "No such queued song in your session.")


def not_moderator(what: str) -> ProblemError:
    return Forbidden("not_moderator", f"Only the host or a co-host can {what}.")


# --- shared by the features ---------------------------------------------------------------------


async def my_membership(tx: Tx) -> Membership:
    """The caller's session and role; 404 `not_in_session` when they are in none."""
    mine = await repository.my_membership(tx.conn)
    if mine is None:
        raise not_in_session()
    return mine


async def require_member(tx: Tx, session_id: UUID) -> str:
    """The caller's role in `session_id`, or the problem saying why they have none."""
    access = await repository.session_access(tx.conn, session_id)
    if access.role is None:
        raise refusal_for(access)
    return access.role


def settings_changes(update: SessionSettingsUpdate, prefix: str = "") -> dict[str, Any]:
    """The columns to write for the fields present in `update` (absent fields keep their value).

    422 for an explicit null where the setting has no "no limit" meaning. `skip_vote_share` is
    stored with 3 decimals; it is rounded, and never rounded down to 0.
    """
    changes: dict[str, Any] = {name: getattr(update, name) for name in update.model_fields_set}
    nulls = [name for name in _NOT_NULLABLE if name in changes and changes[name] is None]
    if nulls:
        raise ValidationFailed(
            detail=f"The request has {len(nulls)} invalid field(s).",
            errors=[field_error("body", prefix + n, "must not be null") for n in nulls],
        )
    share = changes.get("skip_vote_share")
    if share is not None:
        rounded = Decimal(str(share)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
        changes["skip_vote_share"] = max(rounded, Decimal("0.001"))
    return changes


async def member_model(tx: Tx, session_id: UUID, user_id: UUID, *, own_email: bool) -> Member:
    data = await read_repository.member(tx.conn, session_id, user_id, own_email=own_email)
    if data is None:
        raise NotFound("member_not_found", "No such member in this session.")
    return Member.model_validate(data)


async def queued_song_model(tx: Tx, entry_id: UUID, *, own_email: bool) -> QueuedSong:
    data = await read_repository.queued_song(tx.conn, entry_id, own_email=own_email)
    if data is None:
        raise song_not_found()
    return QueuedSong.model_validate(data)


async def playback_changed(
    tx: Tx, session_id: UUID, action: PlaybackAction, finished_entry_id: UUID | None
) -> None:
    """Append `playback_changed` with the playback as it now is."""
    data = await read_repository.playback(tx.conn, session_id)
    finished = (
        await queued_song_model(tx, finished_entry_id, own_email=False)
        if finished_entry_id is not None
        else None
    )
    await events.append(
        tx,
        session_id,
        "playback_changed",
        PlaybackChangedEventData(
            action=action,
            playback=Playback.model_validate(data),
            finished=finished,  # deprecated name, kept for 1.0 apps
            finished_entry=finished,  # left out of the JSON when None
        ),
    )


# --- current ------------------------------------------------------------------------------------


async def current_session(tx: Tx) -> CurrentSessionResponse:
    state = await load_my_session(tx.conn)
    if state is None:
        raise not_in_session()
    return state


# --- create and join ----------------------------------------------------------------------------


async def create_session(tx: Tx, request: CreateSessionRequest | None) -> CurrentSessionResponse:
    """A new session with the caller as host; a caller in another session leaves it first."""
    if not tx.may_host:
        raise anonymous_not_allowed("open a session")
    changes: dict[str, Any] = {}
    if request is not None and request.settings is not None:
        changes = settings_changes(request.settings, prefix="settings.")
        if not changes:
            raise ValidationFailed(
                detail="The request has 1 invalid field.",
                errors=[field_error("body", "settings", "must name at least one setting")],
            )
    chosen = None
    if request is not None and request.join_code is not None:
        chosen = normalize_join_code(request.join_code)
        if chosen is None:
            raise ValidationFailed(
                detail="The join code is invalid.",
                errors=[field_error("body", "join_code", "must be 4-12 letters and digits")],
            )
    user_id = tx.user.id
    mine = await repository.my_membership(tx.conn)
    if mine is not None:
        await leave(tx, mine)

    session_id: UUID | None = None
    if chosen is not None:
        session_id = await repository.insert_session(tx.conn, user_id, chosen, changes)
        if session_id is None:
            raise Conflict(
                "join_code_taken", f"The join code {chosen} is in use by a live session."
            )
    else:
        for _ in range(GENERATED_CODE_ATTEMPTS):
            code = generate_join_code()
            session_id = await repository.insert_session(tx.conn, user_id, code, changes)
            if session_id is not None:
                break
        if session_id is None:
            raise Conflict("conflict", "No free join code was found; try again.")

    await repository.insert_host(tx.conn, user_id, session_id)
    await _member_joined(tx, session_id)
    return await load_current_session(tx.conn, tx.user, session_id)


async def join_session(tx: Tx, request: JoinSessionRequest) -> CurrentSessionResponse:
    """Join the live session with this code as a guest, leaving any other session first.
    Joining the session you are in answers its state and changes nothing."""
    code = normalize_join_code(request.join_code)
    found = await repository.find_by_code(tx.conn, code) if code is not None else None
    if code is None or found is None:
        raise NotFound("session_not_found", "No live session has this join code.")
    session_id, banned = found
    if banned:
        raise Forbidden("banned", "You are banned from this session.")
    mine = await repository.my_membership(tx.conn)
    if mine is not None and mine.session_id == session_id:
        return await load_current_session(tx.conn, tx.user, session_id)
    if mine is not None:
        await leave(tx, mine)
    if await repository.join_by_code(tx.conn, code) is None:  # ended since it was found
        raise NotFound("session_not_found", "No live session has this join code.")
    await _member_joined(tx, session_id)
    return await load_current_session(tx.conn, tx.user, session_id)


async def _member_joined(tx: Tx, session_id: UUID) -> None:
    member = await member_model(tx, session_id, tx.user.id, own_email=False)
    await events.append_member_event(
        tx, session_id, "member_joined", MemberJoinedEventData(member=member, member_count=0)
    )


# --- leave --------------------------------------------------------------------------------------


async def leave_current(tx: Tx) -> LeaveSessionResponse:
    mine = await my_membership(tx)
    ended = await leave(tx, mine)
    return LeaveSessionResponse(session_id=mine.session_id, session_ended=ended)


def anonymous_not_allowed(what: str) -> Forbidden:
    return Forbidden(
        "anonymous_not_allowed",
        f"Anonymous guests cannot {what}; sign up first (they can join, add songs and vote).",
    )


async def leave(tx: Tx, mine: Membership) -> bool:
    """The caller leaves `mine.session_id`. A leaving host hands over to the longest-standing
    co-host, else the longest-standing guest, never to an anonymous one (unless the deployment
    allows anonymous hosts); with nobody to take over the session ends (reason `empty`).
    Returns whether the session ended."""
    session_id, user_id = mine.session_id, tx.user.id
    new_host: UUID | None = None
    if mine.role == "host":
        new_host = await repository.successor(
            tx.conn, session_id, user_id, anonymous=tx.allow_anonymous_hosts
        )
        if new_host is not None:
            await repository.transfer_host(tx.conn, session_id, new_host)
    data = MemberLeftEventData(user_id=user_id, member_count=0, new_host_id=new_host)
    await events.append_member_event(tx, session_id, "member_left", data, leaving=True)
    if mine.role == "host" and new_host is None:
        seq, _ = await repository.end_session(tx.conn, session_id, REASON_EMPTY)
        tx.appended_event(session_id, seq)
        return True
    await repository.delete_member(tx.conn, session_id, user_id)
    return False


# --- playback -----------------------------------------------------------------------------------


async def control_session(
    tx: Tx, action: PlaybackAction, entry_id: UUID | None = None
) -> CurrentSessionResponse:
    """`entry_id`: the entry the caller means (it must be the one playing, else 409 and
    nothing changes: a retried or doubled `next` advances once)."""
    mine = await my_membership(tx)
    if mine.role not in ("host", "cohost"):
        raise not_moderator("control playback")
    session_id = mine.session_id
    if action is PlaybackAction.end:
        if entry_id is not None:
            await _require_current(tx, session_id, entry_id)
        before = await load_current_session(tx.conn, tx.user, session_id)
        seq, ended_at = await repository.end_session(tx.conn, session_id, REASON_HOST_ENDED)
        tx.appended_event(session_id, seq)
        return ended_state(before, seq, ended_at)
    result = await repository.control_playback(tx.conn, session_id, action.value, entry_id)
    if result.stale:
        raise _not_current(entry_id)
    if action in (PlaybackAction.skip, PlaybackAction.next) and result.finished_entry_id is None:
        raise Conflict("nothing_playing", "Nothing is playing.")
    if result.changed:
        await playback_changed(tx, session_id, action, result.finished_entry_id)
    return await load_current_session(tx.conn, tx.user, session_id)


def _not_current(entry_id: UUID | None) -> Conflict:
    return Conflict(
        "not_current_entry",
        f"Entry {entry_id} is not playing any more: someone moved on first, or this call was"
        " already made. Nothing changed.",
    )


async def _require_current(tx: Tx, session_id: UUID, entry_id: UUID) -> None:
    if await repository.current_entry(tx.conn, session_id) != entry_id:
        raise _not_current(entry_id)


def ended_state(
    before: CurrentSessionResponse, seq: int, ended_at: datetime
) -> CurrentSessionResponse:
    """The last state of a session this transaction ended (nobody can read it any more)."""
    session = before.session.model_copy(
        update={"status": SessionStatus.ended, "ended_at": ended_at, "member_count": 0}
    )
    playback = Playback(
        state=PlaybackState.stopped,
        current=None,
        started_at=None,
        skip_votes=0,
        skip_votes_needed=before.settings.skip_vote_min,
    )
    return before.model_copy(
        update={"session": session, "playback": playback, "members": [], "seq": seq}
    )


async def skip_vote(tx: Tx, session_id: UUID) -> SkipVoteResponse:
    """The caller's vote to skip the playing entry; enough votes skip it at once."""
    await require_member(tx, session_id)
    entry_id = await repository.current_entry(tx.conn, session_id)
    if entry_id is None:
        raise Conflict("nothing_playing", "Nothing is playing.")
    already = await repository.has_skip_vote(tx.conn, entry_id, tx.user.id)
    result = await repository.vote_skip(tx.conn, entry_id)
    if not already or result.skipped:
        await events.append(
            tx,
            session_id,
            "skip_votes_updated",
            SkipVotesUpdatedEventData(
                queued_song_id=entry_id, skip_votes=result.votes, skip_votes_needed=result.needed
            ),
        )
    if result.skipped:
        await playback_changed(tx, session_id, PlaybackAction.skip, entry_id)
    return SkipVoteResponse(
        queued_song_id=entry_id,
        skip_votes=result.votes,
        skip_votes_needed=result.needed,
        skipped=result.skipped,
    )


# --- history ------------------------------------------------------------------------------------


async def history(tx: Tx, session_id: UUID, limit: int) -> HistoryResponse:
    await require_member(tx, session_id)
    rows = await read_repository.history(tx.conn, session_id, limit)
    return HistoryResponse.model_validate({"history": rows})
