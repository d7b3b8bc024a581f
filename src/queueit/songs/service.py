"""The queue's product rules: adding (or upvoting what is already queued), voting, removing."""

from __future__ import annotations

import logging
from uuid import UUID

from queueit_contract.models import (
    AddSongRequest,
    QueuedSong,
    SongAddedEventData,
    SongRemovedEventData,
    VoteResponse,
    VoteValue,
)

from queueit.events import repository as events
from queueit.http.problems import Conflict, Forbidden, ValidationFailed
from queueit.kit.tx import Tx
from queueit.sessions import read_repository
from queueit.sessions.service import (
    my_membership,
    not_in_session,
    not_moderator,
    queued_song_model,
    song_not_found,
)
from queueit.songs import repository
from queueit.spotify.errors import InvalidInput, SearchError
from queueit.spotify.service import SearchService
from queueit.spotify.track import Track, parse_track

log = logging.getLogger("queueit.songs")


async def resolve_track(search: SearchService, body: AddSongRequest) -> tuple[Track, bool]:
    """The track to queue and whether it came from the track source (authoritative).

    The body is validated first (control characters, https image, ... -> 422). When the source
    knows the id its metadata wins, so a client cannot dodge the length or explicit rules by
    editing `duration_ms` or `explicit`. Source trouble falls back to the body. Call this before
    opening the transaction: it may wait for Spotify.
    """
    claimed = parse_track(body.model_dump())
    try:
        known = await search.get_track(claimed.id)
    except (SearchError, InvalidInput) as exc:
        log.info("track source could not confirm %s: %s", claimed.id, exc)
        known = None
    return (known, True) if known is not None else (claimed, False)


async def add_song(tx: Tx, track: Track, authoritative: bool) -> QueuedSong:
    mine = await my_membership(tx)
    session_id, user_id = mine.session_id, tx.user.id
    existing = await repository.queued_entry_for_track(tx.conn, session_id, track.id)
    if existing is None:
        settings = await read_repository.settings(tx.conn, session_id)
        assert settings is not None
        _check_rules(settings, track, moderator=mine.role in ("host", "cohost"))
        cap = settings["max_queued_per_user"]
        if cap is not None:
            await repository.lock_adds_of(tx.conn, user_id)
            if await repository.count_queued_by(tx.conn, session_id, user_id) >= cap:
                raise Conflict(
                    "queue_cap_reached",
                    f"You already have {cap} track{'s' if cap != 1 else ''} in the queue.",
                )
        await repository.save_track(tx.conn, track, authoritative=authoritative)
        entry_id = await repository.insert_entry(tx.conn, session_id, track.id, user_id)
        if entry_id is not None:
            await repository.insert_upvote(tx.conn, entry_id, session_id, user_id)
            song = await queued_song_model(tx, entry_id, own_email=False)
            # adding is the adder's upvote: their own copy of the event says so
            await events.append(
                tx,
                session_id,
                "song_added",
                SongAddedEventData(queued_song=song),
                for_caller={"my_vote": 1},
            )
            return await queued_song_model(tx, entry_id, own_email=True)
        # a concurrent add of the same track committed first: this add is an upvote of it
        existing = await repository.queued_entry_for_track(tx.conn, session_id, track.id)
        if existing is None:
            raise Conflict("conflict", "The queue changed meanwhile; try again.")
    outcome = await repository.cast_vote(tx.conn, existing, 1)
    _raise_for(outcome.outcome)
    if outcome.seq is not None and outcome.session_id is not None:
        tx.appended_event(outcome.session_id, outcome.seq)
    return await queued_song_model(tx, existing, own_email=True)


def _check_rules(settings: dict[str, object], track: Track, *, moderator: bool) -> None:
    if settings["queue_locked"] and not moderator:
        raise Forbidden(
            "queue_locked", "The queue is locked: only the host and co-hosts can add tracks."
        )
    limit = settings["max_track_duration_ms"]
    if isinstance(limit, int) and track.duration_ms > limit:
        raise ValidationFailed(
            "track_too_long",
            f"The track is longer than this session allows ({limit // 1000} seconds).",
        )
    if track.explicit and not settings["allow_explicit"]:
        raise ValidationFailed("explicit_not_allowed", "Explicit tracks are not allowed here.")


def _not_queued() -> Conflict:
    return Conflict("not_queued", "That song is no longer in the queue.")


def _raise_for(outcome: str) -> None:
    """The problem for a `app.cast_vote` outcome that is a refusal (nothing for ok/unchanged)."""
    if outcome in ("ok", "unchanged"):
        return
    if outcome == "not_in_session":
        raise not_in_session()
    if outcome == "song_not_found":
        raise song_not_found()
    if outcome == "not_queued":
        raise _not_queued()
    if outcome == "downvotes_disabled":
        raise Forbidden("downvotes_disabled", "Downvotes are turned off in this session.")
    raise AssertionError(f"unknown vote outcome {outcome!r}")


async def vote(tx: Tx, entry_id: UUID, value: VoteValue) -> VoteResponse:
    """The caller's vote (+1, -1, 0 = withdraw) on a queued entry; one round trip."""
    outcome = await repository.cast_vote(tx.conn, entry_id, int(value))
    _raise_for(outcome.outcome)
    if outcome.seq is not None and outcome.session_id is not None:
        tx.appended_event(outcome.session_id, outcome.seq)
    assert outcome.total_votes is not None
    return VoteResponse(queued_song_id=entry_id, total_votes=outcome.total_votes, vote_value=value)


async def remove_song(tx: Tx, entry_id: UUID) -> None:
    """The adder removes their own queued entry; host and co-hosts remove any."""
    mine = await my_membership(tx)
    entry = await repository.entry(tx.conn, entry_id)
    if entry is None or entry.session_id != mine.session_id:
        raise song_not_found()
    if entry.status != "queued":
        raise _not_queued()
    if entry.added_by != tx.user.id and mine.role not in ("host", "cohost"):
        raise not_moderator("remove songs others added")
    if not await repository.mark_removed(tx.conn, entry_id):
        raise _not_queued()
    await events.append(
        tx,
        mine.session_id,
        "song_removed",
        SongRemovedEventData(queued_song_id=entry_id, removed_by=tx.user.id),
    )
