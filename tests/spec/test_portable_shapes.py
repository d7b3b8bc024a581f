"""`make spec-check` refuses schema shapes mainstream generators mishandle (tools/portable.py).

Each case writes one shape into a copy of the mini fixture and expects the check to name it;
the portable spellings and the deprecation path pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from spec_testkit import Editor

from tools import spec_check
from tools.contract import Specs

OA = "openapi"
USER = {"$ref": "#/components/schemas/User"}
NULL = {"type": "null"}


def session_props(d: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = d["components"]["schemas"]["Session"]["properties"]
    return props


def found(root: Path) -> list[str]:
    return spec_check.check_portable_shapes(Specs(root))


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        ({"anyOf": [USER, NULL]}, "`anyOf` with a null branch"),
        ({"oneOf": [USER, NULL]}, "`oneOf` with a null branch"),
        ({"oneOf": [NULL, USER]}, "`oneOf` with a null branch"),
        ({"allOf": [USER, NULL]}, "`allOf` with a null branch"),
        ({"anyOf": [{"type": "string", "format": "date-time"}, NULL]}, "`anyOf` with a null"),
        ({"anyOf": [USER, {"enum": [None]}]}, "`anyOf` with a null branch"),
        ({"description": "x", "anyOf": [USER, {"const": None}]}, "`anyOf` with a null branch"),
        ({**USER, "type": ["object", "null"]}, "`$ref` with sibling keyword(s) ['type']"),
        ({**USER, "nullable": True}, "`nullable` is OpenAPI 3.0 only"),
        ({"type": "string", "nullable": True}, "`nullable` is OpenAPI 3.0 only"),
        ({"type": ["string", "integer"]}, "several non-null types"),
        ({"type": "null"}, "only allows null"),
    ],
)
def test_refused_property_shape(
    mini_root: Path, edit_spec: Editor, prop: dict[str, Any], expected: str
) -> None:
    edit_spec(mini_root, OA, lambda d: session_props(d).update(ended_at=prop))
    problems = found(mini_root)
    assert len(problems) == 1, problems
    assert "#/components/schemas/Session/properties/ended_at: " in problems[0]
    assert expected in problems[0]


def test_refused_inside_items_and_inline_objects(mini_root: Path, edit_spec: Editor) -> None:
    def change(d: dict[str, Any]) -> None:
        session_props(d)["guests"] = {"type": "array", "items": {"oneOf": [USER, NULL]}}
        session_props(d)["extra"] = {
            "type": "object",
            "properties": {"who": {"anyOf": [USER, NULL]}},
        }

    edit_spec(mini_root, OA, change)
    problems = found(mini_root)
    assert [p.split(": ")[0].rsplit("#", 1)[1] for p in problems] == [
        "/components/schemas/Session/properties/extra/properties/who",
        "/components/schemas/Session/properties/guests/items",
    ]


@pytest.mark.parametrize(
    "prop",
    [
        {"type": ["string", "null"], "format": "date-time"},  # a nullable scalar
        {**USER, "description": "plain $ref with annotations", "deprecated": True},
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},  # a union without null
    ],
)
def test_portable_shapes_pass(mini_root: Path, edit_spec: Editor, prop: dict[str, Any]) -> None:
    edit_spec(mini_root, OA, lambda d: session_props(d).update(ended_at=prop))
    assert found(mini_root) == []


def test_deprecation_path_keeps_the_old_shape(mini_root: Path, edit_spec: Editor) -> None:
    def change(d: dict[str, Any]) -> None:
        session_props(d)["owner"] = {
            "deprecated": True,
            "x-replaced-by": "owner_user",
            "anyOf": [USER, NULL],
        }
        session_props(d)["owner_user"] = USER

    edit_spec(mini_root, OA, change)
    assert found(mini_root) == []


@pytest.mark.parametrize(
    ("owner", "expected"),
    [
        ({"x-replaced-by": "owner_user", "anyOf": [USER, NULL]}, "only for `deprecated: true`"),
        ({"deprecated": True, "x-replaced-by": "nobody", "anyOf": [USER, NULL]}, "no sibling"),
        ({"deprecated": True, "anyOf": [USER, NULL]}, "`anyOf` with a null branch"),
    ],
)
def test_deprecation_path_needs_a_named_sibling(
    mini_root: Path, edit_spec: Editor, owner: dict[str, Any], expected: str
) -> None:
    def change(d: dict[str, Any]) -> None:
        session_props(d)["owner"] = owner
        session_props(d)["owner_user"] = USER

    edit_spec(mini_root, OA, change)
    problems = found(mini_root)
    assert any(expected in p for p in problems), problems


def test_main_fails_on_a_refused_shape(mini_root: Path, edit_spec: Editor, capsys: Any) -> None:
    edit_spec(mini_root, OA, lambda d: session_props(d).update(ended_at={"anyOf": [USER, NULL]}))
    assert spec_check.main(["--root", str(mini_root)]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] schemas use portable shapes: 1 problem(s)" in out
