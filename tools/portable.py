"""Schema shapes the mainstream generators mishandle, refused by `make spec-check` (DESIGN.md §1).

Apple's swift-openapi-generator (OpenAPIKit underneath) does not support a `{type: 'null'}`
schema, so a property written `anyOf: [{$ref: X}, {type: 'null'}]` (or `oneOf`) is dropped from
the generated struct without an error: decoding succeeds and throws the data away
(apple/swift-openapi-generator #817, #906, #950). Its nullability rules are: a property is
optional when it is not `required` or its schema's `type` list holds `null`
(Documentation.docc "Handling nullable schemas"). openapi-generator reads the same union as
"nullable X" and ignores `$ref` siblings. So the portable forms are:

- a scalar that may be null: `type: [string, 'null']` (with its `format`, `pattern`, ...);
- an object that may be missing: a plain `$ref`, left out of `required`, omitted on the wire
  (never `null`).

Refused (each with the form to write instead):

- `anyOf` / `oneOf` / `allOf` with a null branch;
- `type: 'null'` on its own (a property that can only be null);
- `$ref` with sibling keywords other than annotations (`type: [object, 'null']` next to a
  `$ref` makes Apple's generator emit an optional, but JSON Schema still requires the
  referenced object, so `null` fails validation; openapi-generator ignores the sibling);
- the OpenAPI 3.0 keyword `nullable` (not part of 3.1; ignored or only warned about);
- a `type` list with two or more non-null types (OpenAPIKit keeps the first one only).

Deprecation path: a property kept only for apps built against a released spec may keep its old
shape when it is `deprecated: true` and `x-replaced-by` names a sibling property written in a
portable form (the generator that drops the old one still has the new one).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools.contract import Node, Specs, iter_subschemas

# Keywords that may sit beside a `$ref` without changing what it validates.
_REF_ANNOTATIONS = frozenset(
    {"$ref", "description", "summary", "title", "deprecated", "readOnly", "writeOnly",
     "default", "examples", "example", "$comment"}
)  # fmt: skip


def is_null_schema(value: Any) -> bool:
    """A schema that allows `null` only."""
    if not isinstance(value, dict):
        return False
    declared = value.get("type")
    if declared == "null" or declared == ["null"]:
        return True
    if "const" in value and value["const"] is None:
        return True
    enum = value.get("enum")
    return isinstance(enum, list) and enum == [None]


def _shape_problems(value: dict[str, Any]) -> Iterator[str]:
    for key in ("anyOf", "oneOf", "allOf"):
        branches = value.get(key)
        if isinstance(branches, list) and any(is_null_schema(b) for b in branches):
            yield (
                f"`{key}` with a null branch (Apple's swift-openapi-generator drops it): write "
                "`type: [<type>, 'null']` for a scalar; for an object, a plain `$ref` left out "
                "of `required` and omitted on the wire"
            )
    if "$ref" in value:
        extra = sorted(
            k
            for k in value
            if k not in _REF_ANNOTATIONS and k != "nullable" and not k.startswith("x-")
        )  # `nullable` has its own message below
        if extra:
            yield (
                f"`$ref` with sibling keyword(s) {extra}: generators read them differently "
                "(and `type: [object, 'null']` beside a `$ref` still refuses null)"
            )
    if "nullable" in value:
        yield "`nullable` is OpenAPI 3.0 only: write `type: [<type>, 'null']`"
    declared = value.get("type")
    if isinstance(declared, list) and len([t for t in declared if t != "null"]) > 1:
        yield (
            f"`type: {declared}` has several non-null types (OpenAPIKit keeps the first): "
            "use `oneOf` of one schema per type"
        )


def _union_null_branches(node: Node) -> Iterator[str]:
    """URIs of the null branches of a union (reported with the union itself)."""
    for key in ("anyOf", "oneOf", "allOf"):
        branches = node.get(key)
        if branches is not None and isinstance(branches.value, list):
            for i, branch in enumerate(branches.value):
                if is_null_schema(branch):
                    yield branches.child(i).uri


def _replacements(props: Node) -> tuple[set[str], list[str]]:
    """Property URIs exempted by the deprecation path, and problems with the path itself."""
    exempt: set[str] = set()
    problems: list[str] = []
    for name in props.value:
        prop = props.child(name)
        if not isinstance(prop.value, dict) or "x-replaced-by" not in prop.value:
            continue
        target = prop.value["x-replaced-by"]
        if prop.value.get("deprecated") is not True:
            problems.append(f"{name}: `x-replaced-by` is only for `deprecated: true` properties")
        elif not isinstance(target, str) or target == name or target not in props.value:
            problems.append(f"{name}: `x-replaced-by: {target!r}` names no sibling property")
        else:
            exempt.add(prop.uri)
    return exempt, problems


def portability_problems(specs: Specs, root: Path) -> list[str]:
    """Every refused shape in the schemas both specs use (components and inline)."""
    seen: set[str] = set()
    exempt: set[str] = set()
    union_nulls: set[str] = set()
    found: list[tuple[Node, str]] = []
    nulls: list[Node] = []
    for schema_root in specs.schema_roots():
        for sub in iter_subschemas(schema_root):
            if sub.uri in seen:
                continue
            seen.add(sub.uri)
            props = sub.get("properties")
            if props is not None and isinstance(props.value, dict):
                more, problems = _replacements(props)
                exempt |= more
                found += [(props, p) for p in problems]
            found += [(sub, p) for p in _shape_problems(sub.value)]
            union_nulls |= set(_union_null_branches(sub))
            if is_null_schema(sub.value):
                nulls.append(sub)
    for sub in nulls:
        if sub.uri not in union_nulls:
            found.append((sub, "a schema that only allows null: leave the property out instead"))

    def inside_exempt(node: Node) -> bool:
        return any(node.uri == uri or node.uri.startswith(uri + "/") for uri in exempt)

    return sorted({f"{node.where(root)}: {p}" for node, p in found if not inside_exempt(node)})
