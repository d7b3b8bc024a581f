"""Moderation rules: who may change settings, roles, and remove whom.

- settings: read by members, changed by the host and co-hosts;
- roles: the host makes members co-hosts or guests again (the host role moves only by leaving);
- kick / ban: host and co-hosts; nobody removes the host; co-hosts do not remove co-hosts; nobody
  removes themselves (that is leaving). A ban also keeps the user out of this session, and may
  name someone who is not a member right now.
"""

from __future__ import annotations

from uuid import UUID

from queueit_contract.models import (
    AssignableRole,
    Member,
    MemberKickedEventData,
    MemberRoleChangedEventData,
    MembersResponse,
    SessionSettings,
    SessionSettingsUpdate,
    SettingsChangedEventData,
)

from queueit.events import repository as events
from queueit.http.problems import Forbidden, NotFound, ValidationFailed, field_error
from queueit.kit.tx import Tx
from queueit.moderation import repository
from queueit.sessions import read_repository
from queueit.sessions import repository as sessions_repository
from queueit.sessions.service import (
    anonymous_not_allowed,
    member_model,
    not_moderator,
    require_member,
    settings_changes,
)


async def get_settings(tx: Tx, session_id: UUID) -> SessionSettings:
    await require_member(tx, session_id)
    return SessionSettings.model_validate(await read_repository.settings(tx.conn, session_id))


async def update_settings(
    tx: Tx, session_id: UUID, update: SessionSettingsUpdate
) -> SessionSettings:
    role = await require_member(tx, session_id)
    if role not in ("host", "cohost"):
        raise not_moderator("change the session's settings")
    changes = settings_changes(update)
    if not changes:
        raise ValidationFailed(
            detail="Name at least one setting to change.",
            errors=[field_error("body", "", "must name at least one setting")],
        )
    before = SessionSettings.model_validate(await read_repository.settings(tx.conn, session_id))
    if not await sessions_repository.update_settings(tx.conn, session_id, changes):
        raise not_moderator("change the session's settings")
    after = SessionSettings.model_validate(await read_repository.settings(tx.conn, session_id))
    if after != before:
        await events.append(
            tx, session_id, "settings_changed", SettingsChangedEventData(settings=after)
        )
    return after


async def list_members(tx: Tx, session_id: UUID) -> MembersResponse:
    await require_member(tx, session_id)
    rows = await read_repository.members(tx.conn, session_id)
    return MembersResponse.model_validate({"members": rows})


async def set_role(tx: Tx, session_id: UUID, user_id: UUID, role: AssignableRole) -> Member:
    mine = await require_member(tx, session_id)
    if mine != "host":
        raise Forbidden("not_host", "Only the host can make or unmake co-hosts.")
    current = await sessions_repository.member_role(tx.conn, session_id, user_id)
    if current is None:
        raise NotFound("member_not_found", "No such member in this session.")
    if current == "host":
        raise Forbidden(
            "cannot_moderate_member", "The host's role changes only when the host leaves."
        )
    if (
        role is AssignableRole.cohost
        and not tx.allow_anonymous_hosts
        and await sessions_repository.is_anonymous(tx.conn, user_id)
    ):
        raise anonymous_not_allowed("be made co-host")
    if current != role.value:
        if not await repository.set_role(tx.conn, session_id, user_id, role.value):
            raise Forbidden("not_host", "Only the host can make or unmake co-hosts.")
        member = await member_model(tx, session_id, user_id, own_email=False)
        await events.append(
            tx, session_id, "member_role_changed", MemberRoleChangedEventData(member=member)
        )
    return await member_model(tx, session_id, user_id, own_email=True)


async def remove_member(tx: Tx, session_id: UUID, user_id: UUID, *, ban: bool) -> None:
    """Kick (or ban) `user_id` from the session."""
    mine = await require_member(tx, session_id)
    action = "ban" if ban else "kick"
    if mine not in ("host", "cohost"):
        raise not_moderator(f"{action} members")
    if user_id == tx.user.id:
        raise Forbidden("cannot_moderate_member", f"You cannot {action} yourself; leave instead.")
    target = await sessions_repository.member_role(tx.conn, session_id, user_id)
    if target is None and not ban:
        raise NotFound("member_not_found", "No such member in this session.")
    if target == "host":
        raise Forbidden("cannot_moderate_member", f"Nobody can {action} the host.")
    if target == "cohost" and mine != "host":
        raise Forbidden("cannot_moderate_member", f"Only the host can {action} a co-host.")
    banned_now = ban and await repository.ban(tx.conn, session_id, user_id, tx.user.id)
    removed = target is not None and await sessions_repository.delete_member(
        tx.conn, session_id, user_id
    )
    if removed or banned_now:
        data = MemberKickedEventData(user_id=user_id, banned=ban, by=tx.user.id, member_count=0)
        await events.append_member_event(tx, session_id, "member_kicked", data)
