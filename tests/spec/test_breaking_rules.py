"""tools/breaking.py catches each kind of breaking change and lets additive changes through.

Each case edits a copy of the mini fixture spec (the "working" spec) and compares it with the
unedited copy (the "release"); a few edit the release as well to set up the before-state.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from spec_testkit import MINI

from tools import breaking
from tools.contract import load_yaml

Change = Callable[[dict[str, Any]], None]


def compare(
    tmp_path: Path, new: Change, old: Change | None = None, asyncapi: Path | None = None
) -> list[str]:
    base = load_yaml(MINI / "openapi" / "queueit.yaml")
    docs = {}
    for name, change in (("old", old), ("new", new)):
        doc = copy.deepcopy(base)
        if old is not None:
            old(doc)  # the before-state applies to both sides
        if name == "new":
            change(doc)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        docs[name] = path
    return breaking.compare(docs["old"], docs["new"], asyncapi)


def schema(d: dict[str, Any], name: str) -> dict[str, Any]:
    return d["components"]["schemas"][name]


def prop(d: dict[str, Any], name: str, field: str) -> dict[str, Any]:
    return schema(d, name)["properties"][field]


def vote_op(d: dict[str, Any]) -> dict[str, Any]:
    return d["paths"]["/api/v1/songs/{entry_id}/vote"]["post"]


def events_op(d: dict[str, Any]) -> dict[str, Any]:
    return d["paths"]["/api/v1/sessions/{session_id}/events"]["get"]


def add_number_field(d: dict[str, Any]) -> None:
    """Before-state for type narrowing: a number in a request body and in a response."""
    schema(d, "VoteRequest")["properties"]["weight"] = {"type": "number"}
    schema(d, "VoteResponse")["properties"]["score"] = {"type": "integer"}
    schema(d, "VoteResponse")["required"].append("score")
    prop(d, "CreateSessionRequest", "join_code")["type"] = ["string", "null"]


def test_identical_specs_do_not_break(tmp_path: Path) -> None:
    assert compare(tmp_path, lambda d: None) == []


def test_additive_changes_do_not_break(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        # a new optional request field, a new response field, new enum values in responses
        schema(d, "VoteRequest")["properties"]["reason"] = {"type": "string", "maxLength": 10}
        schema(d, "VoteResponse")["properties"]["rank"] = {"type": "integer"}
        schema(d, "SessionStatus")["enum"].append("paused")
        schema(d, "PlaybackState")["enum"].append("buffering")
        # a new event type
        skipped = copy.deepcopy(schema(d, "VotesUpdatedEvent"))
        skipped["properties"]["type"]["enum"] = ["song_skipped"]
        d["components"]["schemas"]["SongSkippedEvent"] = skipped
        schema(d, "Event")["oneOf"].append({"$ref": "#/components/schemas/SongSkippedEvent"})
        schema(d, "Event")["discriminator"]["mapping"]["song_skipped"] = (
            "#/components/schemas/SongSkippedEvent"
        )
        # a new optional parameter, a new path, a new response code
        events_op(d)["parameters"].append(
            {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}}
        )
        d["paths"]["/api/v1/new"] = copy.deepcopy(d["paths"]["/healthz"])
        d["paths"]["/api/v1/new"]["get"]["operationId"] = "getNew"
        vote_op(d)["responses"]["202"] = copy.deepcopy(vote_op(d)["responses"]["200"])
        # deprecation
        vote_op(d)["deprecated"] = True
        prop(d, "Track", "album")["deprecated"] = True
        # looser request constraints; narrower response types
        prop(d, "CreateSessionRequest", "join_code").pop("pattern")
        prop(d, "Track", "album")["type"] = "string"
        # a renamed path variable
        item = d["paths"].pop("/api/v1/songs/{entry_id}/vote")
        item["post"]["parameters"][0]["name"] = "song_id"
        d["paths"]["/api/v1/songs/{song_id}/vote"] = item

    assert compare(tmp_path, change) == []


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        (lambda d: d["paths"].pop("/healthz"), None, "/healthz: removed path"),
        (
            lambda d: d["paths"]["/api/v1/songs/{entry_id}/vote"].update(
                get=d["paths"]["/api/v1/songs/{entry_id}/vote"].pop("post")
            ),
            None,
            "POST /api/v1/songs/{entry_id}/vote: removed operation",
        ),
        (
            lambda d: schema(d, "VoteResponse")["properties"].pop("total_votes"),
            None,
            "removed response field 'total_votes'",
        ),
        (
            lambda d: schema(d, "SessionStatus")["enum"].remove("ending"),
            None,
            "removed enum value(s) ['ending'] (response)",
        ),
        (
            lambda d: prop(d, "VoteRequest", "vote_value")["enum"].remove(0),
            None,
            "removed enum value(s) [0] (request)",
        ),
        (
            lambda d: prop(d, "VoteRequest", "weight").update(type="integer"),
            add_number_field,
            "narrowed type: ['integer', 'number'] -> ['integer']",
        ),
        (
            lambda d: prop(d, "CreateSessionRequest", "join_code").update(type="string"),
            add_number_field,
            "no longer accepts ['null']",
        ),
        (
            lambda d: prop(d, "Track", "name").update(maxLength=200),
            lambda d: schema(d, "VoteRequest")["properties"].update(
                song={"$ref": "#/components/schemas/Track"}
            ),
            "request constraint added: maxLength=200",
        ),
        (
            lambda d: prop(d, "CreateSessionRequest", "join_code").update(pattern="^[A-Z]{6}$"),
            None,
            "request constraint tightened: pattern",
        ),
        (
            lambda d: prop(d, "VoteRequest", "weight").update(maximum=5),
            lambda d: (add_number_field(d), prop(d, "VoteRequest", "weight").update(maximum=10)),
            "request constraint tightened: maximum 10 -> 5",
        ),
        (
            lambda d: prop(d, "VoteRequest", "weight").update(minimum=1),
            lambda d: (add_number_field(d), prop(d, "VoteRequest", "weight").update(minimum=0)),
            "request constraint tightened: minimum 0 -> 1",
        ),
        (
            lambda d: (
                schema(d, "CreateSessionRequest")["properties"].update(name={"type": "string"}),
                schema(d, "CreateSessionRequest").update(required=["name"]),
            ),
            None,
            "new required request field 'name'",
        ),
        (
            lambda d: schema(d, "CreateSessionRequest").update(required=["join_code"]),
            None,
            "new required request field 'join_code'",
        ),
        (
            lambda d: events_op(d)["parameters"].pop(1),
            None,
            "parameter query:since: removed parameter",
        ),
        (
            lambda d: events_op(d)["parameters"][1].update(required=True),
            None,
            "parameter query:since: parameter became required",
        ),
        (
            lambda d: events_op(d)["parameters"][1].update(style="deepObject"),
            None,
            "parameter query:since: parameter style changed",
        ),
        (
            lambda d: events_op(d)["parameters"][1]["schema"].update(maximum=100),
            None,
            "parameter query:since: request constraint added: maximum=100",
        ),
        (
            lambda d: events_op(d)["parameters"].append(
                {"name": "limit", "in": "query", "required": True, "schema": {"type": "integer"}}
            ),
            None,
            "parameter query:limit: new required parameter",
        ),
        (
            lambda d: prop(d, "VoteResponse", "total_votes").update(type=["integer", "null"]),
            None,
            "widened response type",
        ),
        (
            lambda d: prop(d, "VoteResponse", "score").update(type="number"),
            add_number_field,
            "may now send ['number']",
        ),
        (
            lambda d: schema(d, "VoteResponse")["required"].remove("total_votes"),
            None,
            "response field 'total_votes' is no longer required",
        ),
        (
            lambda d: prop(d, "VoteResponse", "entry_id").pop("format"),
            None,
            "response format 'uuid' -> None",
        ),
        (
            lambda d: vote_op(d)["responses"].pop("200"),
            None,
            "POST /api/v1/songs/{entry_id}/vote 200: removed response",
        ),
        (
            lambda d: vote_op(d)["responses"]["200"]["headers"].clear(),
            None,
            "removed response header X-Request-ID",
        ),
        (
            lambda d: vote_op(d)["requestBody"].update(required=True),
            lambda d: vote_op(d)["requestBody"].update(required=False),
            "request body became required",
        ),
        (
            lambda d: schema(d, "VoteRequest").update(additionalProperties=False),
            lambda d: schema(d, "VoteRequest").pop("additionalProperties"),
            "request object now refuses additional properties",
        ),
        (
            lambda d: (
                schema(d, "Event")["oneOf"].pop(),
                schema(d, "Event")["discriminator"]["mapping"].pop("playback_changed"),
            ),
            None,
            "removed discriminator value(s) ['playback_changed']",
        ),
        (
            lambda d: d["components"]["schemas"].pop("ClientHello"),
            None,
            "#/components/schemas/ClientHello: removed schema",
        ),
        (
            lambda d: prop(d, "ClientHello", "token").update(maxLength=10),
            None,
            "#/components/schemas/ClientHello.token: request constraint added: maxLength=10",
        ),
    ],
)
def test_breaking_change_is_caught(
    tmp_path: Path, new: Change, old: Change | None, expected: str
) -> None:
    findings = compare(tmp_path, new, old)
    assert any(expected in f for f in findings), findings


def test_realtime_only_schemas_take_their_direction_from_asyncapi(tmp_path: Path) -> None:
    """ClientHello is used by no REST operation; the AsyncAPI operations say who sends it."""

    def tighter(d: dict[str, Any]) -> None:
        prop(d, "ClientHello", "token")["maxLength"] = 10

    received = MINI / "asyncapi" / "queueit.yaml"  # `action: receive`: the server reads it
    assert any("maxLength=10" in f for f in compare(tmp_path, tighter, asyncapi=received))

    flipped = copy.deepcopy(load_yaml(received))
    flipped["operations"]["receiveHello"]["action"] = "send"  # now the server would write it
    sent = tmp_path / "flipped" / "asyncapi" / "queueit.yaml"  # its payload $refs must resolve
    sent.parent.mkdir(parents=True)
    sent.write_text(yaml.safe_dump(flipped, sort_keys=False))
    shutil.copytree(MINI / "openapi", tmp_path / "flipped" / "openapi")
    assert compare(tmp_path, tighter, asyncapi=sent) == []


def test_cli_exit_status(tmp_path: Path, capsys: Any) -> None:
    spec = MINI / "openapi" / "queueit.yaml"
    assert breaking.main(["--old", str(spec), "--new", str(spec)]) == 0
    broken = load_yaml(spec) | {"paths": {}}
    (tmp_path / "new.yaml").write_text(yaml.safe_dump(broken))
    assert breaking.main(["--old", str(spec), "--new", str(tmp_path / "new.yaml")]) == 1
    assert "BREAKING /healthz: removed path" in capsys.readouterr().out


def test_newest_release_orders_versions_numerically(tmp_path: Path) -> None:
    released = tmp_path / "openapi" / "released"
    released.mkdir(parents=True)
    for version in ("1.2.0", "1.10.0", "1.9.3"):
        (released / f"queueit-{version}.yaml").write_text("openapi: 3.1.0\n")
    assert breaking.newest_release(tmp_path) == released / "queueit-1.10.0.yaml"
