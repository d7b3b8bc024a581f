"""Names that look alike are told apart in a session (issue: a guest joined with exactly the
host's name); names from tokens lose invisible characters (auth.user.display_name)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from queueit.auth.user import AuthUser, display_name
from queueit.db import Database
from queueit.sessions import read_repository


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("host\u200b", "host"),  # zero-width space
        ("ho\u2060st", "host"),  # word joiner
        ("ho\u00adst", "host"),  # soft hyphen
        ("\uff48\uff4f\uff53\uff54", "host"),  # full-width letters
        ("h\u200do\u200cst", "host"),  # joiners between letters
        ("\u202ehost", "host"),  # bidi override
        ("dj \U0001f469\u200d\U0001f4bb", "dj \U0001f469\u200d\U0001f4bb"),  # emoji sequence kept
        ("\u200b\u200b", None),  # nothing visible left
    ],
)
def test_display_names_lose_what_cannot_be_seen(raw: str, shown: str | None) -> None:
    assert display_name(raw) == shown


def test_token_names_are_cleaned() -> None:
    user = AuthUser.from_claims(uuid.uuid4(), {"user_metadata": {"full_name": "Maya\u200b"}})
    assert user.username == "Maya"


async def test_look_alike_names_in_a_session_both_show_an_id(
    db: Database, new_user: Any, make_session: Any
) -> None:
    host, copy, fullwidth, other = [await new_user(n) for n in ("Maya", "c", "f", "Sam")]
    # other case and a trailing space; full-width letters
    for person, name in ((copy, "maya "), (fullwidth, "\uff2d\uff41\uff59\uff41")):
        async with person.tx(db) as conn:
            await conn.execute(
                "update queueit.profiles set username = $1 where id = auth.uid()", name
            )
    session = await make_session(host, guests=[copy, fullwidth, other])
    async with other.tx(db) as conn:
        members = await read_repository.members(conn, session.id)
    names = {m["user"]["id"]: m["user"]["username"] for m in members}
    assert names[str(other.id)] == "Sam"
    for person in (host, copy, fullwidth):
        tag = " #" + str(person.id)[:4].upper()
        assert names[str(person.id)].endswith(tag), names
    assert len(set(names.values())) == 4
    # the host stays unmistakable: listed first, with its role
    assert members[0]["role"] == "host" and members[0]["user"]["id"] == str(host.id)
    # in another session, with nobody alike, the name is shown as it is
    alone = await new_user("Maya")
    lone = await make_session(alone)
    async with alone.tx(db) as conn:
        (me,) = await read_repository.members(conn, lone.id)
    assert me["user"]["username"] == "Maya"
