"""Each spec check catches the problem it exists for (on broken copies of the mini fixture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from spec_testkit import Editor

from tools import spec_check
from tools.contract import Specs

OA, AA = "openapi", "asyncapi"


def problems(root: Path, check: str) -> list[str]:
    return getattr(spec_check, check)(Specs(root))


def test_mini_fixture_passes_every_check(mini_root: Path) -> None:
    for title, check in spec_check.CHECKS.items():
        assert check(Specs(mini_root)) == [], title


def test_main_reports_and_fails(mini_root: Path, edit_spec: Editor, capsys: Any) -> None:
    assert spec_check.main(["--root", str(mini_root)]) == 0
    edit_spec(mini_root, OA, lambda d: d["paths"]["/healthz"]["get"].pop("operationId"))
    assert spec_check.main(["--root", str(mini_root)]) == 1
    assert "no operationId" in capsys.readouterr().out


# ---- validity and refs ------------------------------------------------------------------------


def test_invalid_openapi(mini_root: Path, edit_spec: Editor) -> None:
    def change(d: dict[str, Any]) -> None:
        d["info"].pop("version")
        d["components"]["parameters"]["SessionId"]["in"] = "body"

    edit_spec(mini_root, OA, change)
    assert len(problems(mini_root, "check_openapi_valid")) >= 2


def test_openapi_must_be_3_1(mini_root: Path, edit_spec: Editor) -> None:
    edit_spec(mini_root, OA, lambda d: d.update(openapi="3.0.3"))
    assert "3.1" in problems(mini_root, "check_openapi_valid")[0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(asyncapi="2.6.0"), "expected '3.0.0'"),
        (lambda d: d["info"].update(defaultContentType="application/json"), "info"),
        (lambda d: d["operations"]["sendEvents"].update(action="recv"), "action"),
        (lambda d: d["channels"]["sessionRealtime"].update(adress="/x"), "adress"),
        (
            lambda d: d["channels"]["sessionRealtime"].update(address="/sessions/{id}/rt"),
            "address parameter {id}",
        ),
        (
            lambda d: d["operations"]["receiveHello"]["messages"].append(
                {"$ref": "#/components/messages/VotesUpdated"}
            ),
            "is not a message of #/channels/sessionRealtime",
        ),
        (
            lambda d: d["operations"]["receiveHello"].update(
                channel={"$ref": "#/components/channels/nope"}
            ),
            "channel must be a $ref",
        ),
        (
            lambda d: d["components"]["messages"]["VotesUpdated"]["examples"].append({"name": "x"}),
            "needs payload or headers",
        ),
        (
            lambda d: d["components"]["messages"].update({"bad key!": {"payload": {}}}),
            "key must match",
        ),
    ],
)
def test_invalid_asyncapi(mini_root: Path, edit_spec: Editor, change: Any, expected: str) -> None:
    edit_spec(mini_root, AA, change)
    found = problems(mini_root, "check_asyncapi_valid")
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("which", "change"),
    [
        (
            OA,
            lambda d: d["components"]["schemas"]["Session"]["properties"]["host"].update(
                {"$ref": "#/components/schemas/Nobody"}
            ),
        ),
        (
            OA,
            lambda d: d["paths"]["/healthz"]["get"]["responses"].update(
                {"500": {"$ref": "#/components/responses/Missing"}}
            ),
        ),
        (
            AA,
            lambda d: d["components"]["messages"]["PlaybackChanged"]["payload"].update(
                {"$ref": "../openapi/queueit.yaml#/components/schemas/NoSuchEvent"}
            ),
        ),
        (
            AA,
            lambda d: d["components"]["messages"]["PlaybackChanged"]["payload"].update(
                {"$ref": "../openapi/nope.yaml#/components/schemas/PlaybackChangedEvent"}
            ),
        ),
    ],
)
def test_unresolvable_ref(mini_root: Path, edit_spec: Editor, which: str, change: Any) -> None:
    edit_spec(mini_root, which, change)
    assert problems(mini_root, "check_refs_resolve")


def test_ref_inside_an_example_value_is_data(mini_root: Path, edit_spec: Editor) -> None:
    def change(d: dict[str, Any]) -> None:
        d["components"]["schemas"]["ClientHello"]["example"]["token"] = "x"
        d["components"]["schemas"]["Health"]["example"] = {"status": "ok"}
        d["components"]["schemas"]["Health"]["properties"]["status"]["default"] = "ok"

    edit_spec(mini_root, OA, change)
    assert problems(mini_root, "check_refs_resolve") == []


def test_yaml_that_is_not_json(mini_root: Path) -> None:
    path = mini_root / OA / "queueit.yaml"
    text = path.read_text()
    text = text.replace("created_at: '2025-11-22T10:30:00Z'", "created_at: 2025-11-22T10:30:00Z")
    text = text.replace("'200':", "200:", 1)
    path.write_text(text)
    found = problems(mini_root, "check_yaml_is_json")
    assert any("datetime" in p for p in found), found
    assert any("key 200" in p for p in found), found


def test_asyncapi_payload_must_be_an_openapi_component(mini_root: Path, edit_spec: Editor) -> None:
    edit_spec(
        mini_root,
        AA,
        lambda d: d["components"]["messages"]["ClientHello"].update(
            payload={"type": "object", "properties": {"type": {"type": "string"}}}
        ),
    )
    assert problems(mini_root, "check_asyncapi_payloads_in_openapi")


# ---- examples ---------------------------------------------------------------------------------


def _current_session(d: dict[str, Any]) -> dict[str, Any]:
    return d["components"]["examples"]["CurrentSessionExample"]["value"]["session"]


def _op(d: dict[str, Any], path: str = "/api/v1/songs/{entry_id}/vote") -> dict[str, Any]:
    return d["paths"][path]["get" if "healthz" in path or "events" in path else "post"]


def _events_example(d: dict[str, Any]) -> dict[str, Any]:
    content = d["paths"]["/api/v1/sessions/{session_id}/events"]["get"]["responses"]["200"]
    return content["content"]["application/json"]["examples"]["some"]["value"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: _events_example(d)["events"][0].update(seq="12"), "'12' is not of type"),
        (lambda d: _events_example(d)["events"][0].pop("payload"), "'payload' is a required"),
        (lambda d: _events_example(d).pop("latest_seq"), "'latest_seq' is a required property"),
        (
            lambda d: d["components"]["examples"]["CurrentSessionExample"]["value"][
                "session"
            ].update(status="paused"),
            "'paused' is not one of",
        ),
        (
            lambda d: d["components"]["examples"]["CurrentSessionExample"]["value"][
                "session"
            ].update(id="not-a-uuid"),
            "is not a 'uuid'",
        ),
        (
            lambda d: d["paths"]["/api/v1/songs/{entry_id}/vote"]["post"]["requestBody"]["content"][
                "application/json"
            ].update(example={"vote_value": 2}),
            "is not one of",
        ),
        (
            lambda d: d["components"]["schemas"]["VotesUpdatedEvent"]["examples"][0].update(
                extra=1, seq=0
            ),
            "less than the minimum",
        ),
        (
            lambda d: d["components"]["schemas"]["ClientHello"]["example"].pop("token"),
            "'token' is a required property",
        ),
        (
            lambda d: d["components"]["schemas"]["User"]["properties"]["username"].update(
                examples=["x" * 65]
            ),
            "is too long",
        ),
        (
            lambda d: d["components"]["headers"]["XRequestId"].update(example="x" * 65),
            "is too long",
        ),
        (
            lambda d: d["paths"]["/api/v1/sessions/{session_id}/events"]["get"]["parameters"][
                1
            ].update(example=-1),
            "less than the minimum",
        ),
        (
            lambda d: d["components"]["requestBodies"].update(
                Unused={
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/VoteRequest"},
                            "example": {"vote_value": "up"},
                        }
                    }
                }
            ),
            "'up' is not of type 'integer'",
        ),
    ],
)
def test_invalid_openapi_example(
    mini_root: Path, edit_spec: Editor, change: Any, expected: str
) -> None:
    def apply(d: dict[str, Any]) -> None:
        d["components"].setdefault("requestBodies", {})
        change(d)

    edit_spec(mini_root, OA, apply)
    found = problems(mini_root, "check_examples_validate")
    assert any(expected in p for p in found), found


def test_invalid_asyncapi_message_example(mini_root: Path, edit_spec: Editor) -> None:
    edit_spec(
        mini_root,
        AA,
        lambda d: d["components"]["messages"]["VotesUpdated"]["examples"][0]["payload"].update(
            type="playback_changed"
        ),
    )
    found = problems(mini_root, "check_examples_validate")
    assert any("VotesUpdated" in p and "playback_changed" in p for p in found), found


@pytest.mark.parametrize(
    "value",
    [
        "2025-11-22T10:30:00.000Z",  # fractional seconds
        "2025-11-22T10:30:00+01:00",  # an offset
        "2025-11-22T10:30:00",  # naive
        "2025-11-22 10:30:00Z",  # a space
        "2025-11-22T10:30Z",  # no seconds
        "2025-13-22T10:30:00Z",  # no such month
    ],
)
def test_example_datetimes_use_the_wire_format(
    mini_root: Path, edit_spec: Editor, value: str
) -> None:
    edit_spec(mini_root, OA, lambda d: _events_example(d)["events"][1].update(occurred_at=value))
    found = problems(mini_root, "check_example_datetimes")
    assert any(repr(value) in p for p in found), found
    assert any("YYYY-MM-DDTHH:MM:SSZ" in p for p in problems(mini_root, "check_examples_validate"))


def test_datetime_in_a_field_without_format_is_checked_too(
    mini_root: Path, edit_spec: Editor
) -> None:
    edit_spec(
        mini_root,
        OA,
        lambda d: _current_session(d).update(join_code="2025-11-22T10:30:00.5Z"),
    )
    assert problems(mini_root, "check_example_datetimes")


def test_unused_component_example(mini_root: Path, edit_spec: Editor) -> None:
    edit_spec(mini_root, OA, lambda d: d["components"]["examples"].update(Lost={"value": {}}))
    assert problems(mini_root, "check_component_examples_used") == [
        "components/examples/Lost is referenced by no media type, parameter or header"
    ]


# ---- operations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: _op(d).pop("operationId"), "no operationId"),
        (lambda d: _op(d).update(operationId="getHealth"), "also used by GET /healthz"),
        (lambda d: d.pop("security"), "no security"),
        (lambda d: _op(d).update(security=[{"apiKey": []}]), "'apiKey' is not defined"),
        (
            lambda d: _op(d)["responses"].update(
                {"404": {"description": "x", "content": {"application/json": {"schema": {}}}}}
            ),
            "errors are application/problem+json only",
        ),
        (lambda d: _op(d)["responses"].update({"400": {"description": "x"}}), "has no application"),
        (lambda d: _op(d)["responses"].pop("default"), "no error response with"),
        (
            lambda d: _op(d)["requestBody"]["content"]["application/json"].pop("example"),
            "request body application/json has no example",
        ),
        (
            lambda d: _op(d)["responses"]["200"]["content"]["application/json"].pop("example"),
            "response 200 application/json has no example",
        ),
        (lambda d: _op(d).pop("parameters"), "path parameter 'entry_id' is not declared"),
    ],
)
def test_operation_rules(mini_root: Path, edit_spec: Editor, change: Any, expected: str) -> None:
    edit_spec(mini_root, OA, change)
    found = problems(mini_root, "check_operations")
    assert any(expected in p for p in found), found


def test_public_operation_with_explicit_empty_security_passes(
    mini_root: Path, edit_spec: Editor
) -> None:
    def change(d: dict[str, Any]) -> None:
        d.pop("security")
        for item in d["paths"].values():
            for op in item.values():
                op["security"] = op.get("security", [{"bearerAuth": []}])

    edit_spec(mini_root, OA, change)
    assert problems(mini_root, "check_operations") == []


def test_problem_schema_fields(mini_root: Path, edit_spec: Editor) -> None:
    def change(d: dict[str, Any]) -> None:
        problem = d["components"]["schemas"]["Problem"]
        problem["properties"].pop("request_id")
        problem["required"].remove("detail")
        problem["properties"]["code"] = {"type": "string"}

    edit_spec(mini_root, OA, change)
    found = problems(mini_root, "check_problem_schema")
    assert len(found) == 3, found


def test_problem_codes_need_a_message_each(mini_root: Path, edit_spec: Editor) -> None:
    def change(d: dict[str, Any]) -> None:
        codes = d["components"]["schemas"]["ProblemCode"]
        codes["enum"].append("brand_new")  # no message
        codes["x-messages"]["not_a_code"] = "Stray."
        codes["x-messages"]["not_found"] = " "

    edit_spec(mini_root, OA, change)
    found = problems(mini_root, "check_problem_schema")
    assert len(found) == 3, found
    assert any("'brand_new'" in f for f in found), found


def test_inline_body_schema(mini_root: Path, edit_spec: Editor) -> None:
    edit_spec(
        mini_root,
        OA,
        lambda d: _op(d)["requestBody"]["content"]["application/json"].update(
            schema={"type": "object", "properties": {"vote_value": {"type": "integer"}}}
        ),
    )
    found = problems(mini_root, "check_bodies_are_components")
    assert found and "request application/json" in found[0]


def test_response_without_request_id_header(mini_root: Path, edit_spec: Editor) -> None:
    edit_spec(mini_root, OA, lambda d: _op(d)["responses"]["200"].pop("headers"))
    assert problems(mini_root, "check_request_id_header") == [
        "POST /api/v1/songs/{entry_id}/vote 200: no X-Request-ID header"
    ]


# ---- close codes ----------------------------------------------------------------------------

_TABLE = (
    "**Close codes.**\n| code | meaning | client should |\n|---|---|---|\n"
    "| 4010 | kicked | stop |\n"
)


def test_close_code_table_and_data_agree(mini_root: Path, edit_spec: Editor) -> None:
    def change(d: dict[str, Any]) -> None:
        d["info"]["description"] += "\n" + _TABLE
        d["channels"]["sessionRealtime"]["x-close-codes"] = [
            {"code": 4010, "name": "kicked", "meaning": "kicked", "action": "stop"}
        ]

    edit_spec(mini_root, AA, change)
    assert problems(mini_root, "check_close_codes") == []


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], "4010 is in the description table but not in x-close-codes"),
        (
            [
                {"code": 4010, "name": "kicked", "meaning": "kicked", "action": "stop"},
                {"code": 4011, "name": "banned", "meaning": "banned", "action": "stop"},
            ],
            "4011 is in x-close-codes but not in the description table",
        ),
        (
            [{"code": 4010, "name": "kicked", "meaning": "thrown out", "action": "stop"}],
            "x-close-codes says 'thrown out', the table 'kicked'",
        ),
    ],
)
def test_close_code_mismatch(
    mini_root: Path, edit_spec: Editor, rows: list[dict[str, Any]], expected: str
) -> None:
    def change(d: dict[str, Any]) -> None:
        d["info"]["description"] += "\n" + _TABLE
        d["channels"]["sessionRealtime"]["x-close-codes"] = rows

    edit_spec(mini_root, AA, change)
    found = problems(mini_root, "check_close_codes")
    assert any(expected in p for p in found), found


def test_server_close_codes_are_in_the_spec() -> None:
    """Every code the service closes a socket with is in the table the Swift type is built from
    (1012 comes from the HTTP server, not from queueit.realtime)."""
    from queueit.realtime.protocol import CloseCode
    from tools.contract import REPO

    spec = Specs(REPO).asyncapi.value["channels"]["sessionRealtime"]["x-close-codes"]
    assert {int(c) for c in CloseCode} == {row["code"] for row in spec} - {1012}
