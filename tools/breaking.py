"""Breaking changes between a released OpenAPI spec and the working one.

A change breaks an app built against the released spec when the app's requests may now be
refused, or the server's answers may no longer decode. So schemas are compared by direction:

- request bodies and parameters (the app writes, the server reads): the new spec must accept
  everything the old one did. Breaking: a new required field or parameter, a removed field,
  parameter or enum value, a narrowed type (number -> integer, a shorter type union), a new or
  tighter maxLength/minLength/pattern/format/maximum/minimum/multipleOf/maxItems/..., a new
  `additionalProperties: false`, a removed oneOf variant, a parameter that moved or became
  required. (`anyOf: [S, {type: 'null'}]` reads as "S or null", like `type: [..., 'null']`.)
- responses (the server writes, the app reads): the app must still decode everything the server
  sends. Breaking: a removed field, a field no longer required, a widened type (integer ->
  number, a type union growing, e.g. a field becoming nullable), a removed or changed format, a
  removed enum value, event type or oneOf variant, a removed 2xx response, media type or
  response header.
  New enum values and new event types are allowed: the generated clients decode unknown values
  to a fallback case.

Anywhere: a removed path, operation or component schema (the generated type goes away).
Additions are fine; so is `deprecated: true` (deprecate first, remove in a new major version).
Component schemas no REST operation uses (realtime-only messages) take their direction from the
AsyncAPI spec beside the working one, which describes the server (AsyncAPI 3 semantics):
payloads of `action: send` operations are responses, of `action: receive` requests. A schema
neither spec places is compared both ways.

Usage: python -m tools.breaking [--root ROOT] [--old RELEASED.yaml] [--new WORKING.yaml]
Exit status 1 when something breaks.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from tools.contract import (
    ASYNCAPI,
    HTTP_METHODS,
    OPENAPI,
    RELEASED_DIR,
    REPO,
    Node,
    RefError,
    deref,
    load_yaml,
)

REQUEST, RESPONSE = "request", "response"
_NUMERIC_ORDER = re.compile(r"\d+")

# (keyword, how a new value narrows what is accepted: "max" smaller, "min" larger, "any" change)
_TIGHTENING = (
    ("maxLength", "max"),
    ("minLength", "min"),
    ("maximum", "max"),
    ("exclusiveMaximum", "max"),
    ("minimum", "min"),
    ("exclusiveMinimum", "min"),
    ("maxItems", "max"),
    ("minItems", "min"),
    ("maxProperties", "max"),
    ("minProperties", "min"),
    ("multipleOf", "any"),
    ("pattern", "any"),
    ("format", "any"),
)
_ALL_TYPES = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _types(node: Node, depth: int = 0) -> frozenset[str]:
    """The JSON types a schema allows; a oneOf/anyOf without `type` allows its branches' types."""
    schema = node.value
    if not isinstance(schema, dict):
        return _ALL_TYPES
    declared = schema.get("type")
    if isinstance(declared, str):
        types = {declared}
    elif isinstance(declared, list):
        types = set(declared)
    elif "const" in schema:
        types = {_json_type(schema["const"])}
    elif isinstance(schema.get("enum"), list):
        types = {_json_type(v) for v in schema["enum"]}
    elif depth < 10 and any(isinstance(schema.get(k), list) for k in ("oneOf", "anyOf")):
        key = "oneOf" if isinstance(schema.get("oneOf"), list) else "anyOf"
        types = set()
        for i in range(len(schema[key])):
            types |= _types(deref(node.child(key).child(i)), depth + 1)
    else:
        return _ALL_TYPES
    if schema.get("nullable") is True:
        types.add("null")
    if "number" in types:
        types.add("integer")
    return frozenset(types)


def _nullable_parts(node: Node) -> tuple[Node, bool]:
    """`anyOf: [S, {type: null}]` (or oneOf) is S that may also be null: compare S itself."""
    value = node.value
    if not isinstance(value, dict) or any(k in value for k in ("type", "properties", "enum")):
        return node, False
    for key in ("anyOf", "oneOf"):
        branches = value.get(key)
        if not isinstance(branches, list) or len(branches) != 2:
            continue
        nulls = [
            i for i, b in enumerate(branches) if isinstance(b, dict) and b.get("type") == "null"
        ]
        if len(nulls) == 1:
            return deref(node.child(key).child(1 - nulls[0])), True
    return node, False


def _enum(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    values = schema.get("enum")
    return list(values) if isinstance(values, list) else None


def _path_key(path: str) -> str:
    return re.sub(r"\{[^{}]+\}", "{}", path)


def newest_release(root: Path) -> Path | None:
    """The released spec with the highest version, e.g. openapi/released/queueit-1.2.0.yaml."""
    candidates = sorted(
        (root / RELEASED_DIR).glob("queueit-*.yaml"),
        key=lambda p: [int(n) for n in _NUMERIC_ORDER.findall(p.stem)],
    )
    return candidates[-1] if candidates else None


def realtime_directions(asyncapi: Path | None) -> dict[str, set[str]]:
    """OpenAPI component name -> directions, from the operations of an AsyncAPI document."""
    directions: dict[str, set[str]] = {}
    if asyncapi is None or not asyncapi.is_file():
        return directions
    doc = Node(load_yaml(asyncapi), asyncapi.resolve(), "")
    for name, op in (doc.value.get("operations") or {}).items():
        direction = {"send": RESPONSE, "receive": REQUEST}.get(op.get("action"))
        messages = doc.child("operations").child(name).get("messages")
        for i in range(len(messages.value) if messages and direction else 0):
            try:
                payload = deref(messages.child(i)).get("payload")
                target = deref(payload) if payload is not None else None
            except RefError:
                continue
            match = target and re.fullmatch(r"/components/schemas/([^/]+)", target.pointer)
            if match:
                directions.setdefault(match.group(1), set()).add(direction)  # type: ignore[arg-type]
    return directions


class Comparison:
    def __init__(self, old_path: Path, new_path: Path, asyncapi: Path | None = None) -> None:
        self.old = Node(load_yaml(old_path), old_path.resolve(), "")
        self.new = Node(load_yaml(new_path), new_path.resolve(), "")
        self.directions = realtime_directions(asyncapi)
        self.findings: list[str] = []
        self._seen: set[tuple[str, str, str]] = set()

    def report(self, where: str, message: str) -> None:
        self.findings.append(f"{where}: {message}")

    # ---- schemas ----------------------------------------------------------------------------

    def schema(self, old: Node, new: Node, direction: str, where: str) -> None:
        old, new = deref(old), deref(new)
        key = (old.uri, new.uri, direction)
        if key in self._seen:
            return
        self._seen.add(key)
        for node in (old, new):
            component = re.fullmatch(r"/components/schemas/[^/]+", node.pointer)
            if component and node.pointer not in where:
                where = f"{where} [#{node.pointer}]"
                break
        (old, old_null), (new, new_null) = _nullable_parts(old), _nullable_parts(new)
        o, n = old.value, new.value
        if not isinstance(o, dict) or not isinstance(n, dict):
            return

        old_types = _types(old) | ({"null"} if old_null else set())
        new_types = _types(new) | ({"null"} if new_null else set())
        if direction == REQUEST and old_types - new_types:
            self.report(
                where,
                f"narrowed type: {sorted(old_types)} -> {sorted(new_types)} "
                f"(no longer accepts {sorted(old_types - new_types)})",
            )
        if direction == RESPONSE and new_types - old_types:
            self.report(
                where,
                f"widened response type: {sorted(old_types)} -> {sorted(new_types)} "
                f"(may now send {sorted(new_types - old_types)})",
            )

        old_enum, new_enum = _enum(o), _enum(n)
        if old_enum is not None and new_enum is not None:
            removed = [v for v in old_enum if v not in new_enum]
            if removed:
                self.report(where, f"removed enum value(s) {removed} ({direction})")
        elif old_enum is None and new_enum is not None and direction == REQUEST:
            self.report(where, f"request value now limited to enum {new_enum}")
        elif old_enum is not None and new_enum is None and direction == RESPONSE:
            self.report(where, "response value is no longer an enum")

        if direction == REQUEST:
            self._tightened(o, n, where)
        elif "format" in o and o.get("format") != n.get("format"):
            self.report(where, f"response format {o['format']!r} -> {n.get('format')!r}")

        self._object(old, new, direction, where)
        for key in ("items", "additionalProperties", "not", "contains", "propertyNames"):
            if isinstance(o.get(key), dict) and isinstance(n.get(key), dict):
                self.schema(old.child(key), new.child(key), direction, f"{where}/{key}")
        for key in ("prefixItems", "allOf"):
            for i in range(min(len(o.get(key) or []), len(n.get(key) or []))):
                self.schema(
                    old.child(key).child(i),
                    new.child(key).child(i),
                    direction,
                    f"{where}/{key}/{i}",
                )
        for key in ("oneOf", "anyOf"):
            if isinstance(o.get(key), list) and isinstance(n.get(key), list):
                self._union(old.child(key), new.child(key), direction, f"{where}/{key}")
        self._discriminator(o, n, where)

    def _tightened(self, o: dict[str, Any], n: dict[str, Any], where: str) -> None:
        for keyword, kind in _TIGHTENING:
            if keyword not in n:
                continue
            new_value = n[keyword]
            if keyword not in o:
                self.report(where, f"request constraint added: {keyword}={new_value!r}")
                continue
            old_value = o[keyword]
            if isinstance(old_value, bool) or isinstance(new_value, bool):
                tighter = old_value != new_value
            elif kind == "max":
                tighter = new_value < old_value
            elif kind == "min":
                tighter = new_value > old_value
            else:
                tighter = new_value != old_value
            if tighter:
                self.report(
                    where, f"request constraint tightened: {keyword} {old_value!r} -> {new_value!r}"
                )
        if n.get("uniqueItems") is True and o.get("uniqueItems") is not True:
            self.report(where, "request constraint added: uniqueItems")

    def _object(self, old: Node, new: Node, direction: str, where: str) -> None:
        o, n = old.value, new.value
        old_props, new_props = o.get("properties") or {}, n.get("properties") or {}
        old_req, new_req = set(o.get("required") or []), set(n.get("required") or [])
        for name in old_props:
            if name not in new_props:
                self.report(where, f"removed {direction} field {name!r}")
        if direction == REQUEST:
            for name in sorted(new_req - old_req):
                self.report(where, f"new required request field {name!r}")
            if (
                n.get("additionalProperties") is False
                and o.get("additionalProperties") is not False
            ):
                self.report(where, "request object now refuses additional properties")
        else:
            for name in sorted(old_req - new_req):
                if name in new_props:
                    self.report(where, f"response field {name!r} is no longer required")
        for name in old_props:
            if name in new_props:
                self.schema(
                    old.child("properties").child(name),
                    new.child("properties").child(name),
                    direction,
                    f"{where}.{name}",
                )

    def _union(self, old: Node, new: Node, direction: str, where: str) -> None:
        def label(branch: Node, i: int) -> str:
            ref = branch.value.get("$ref") if isinstance(branch.value, dict) else None
            return ref.rsplit("/", 1)[-1] if ref else f"#{i}"

        old_branches = {label(old.child(i), i): old.child(i) for i in range(len(old.value))}
        new_branches = {label(new.child(i), i): new.child(i) for i in range(len(new.value))}
        for name, branch in old_branches.items():
            if name in new_branches:
                self.schema(branch, new_branches[name], direction, f"{where}[{name}]")
            else:
                self.report(where, f"removed variant {name} ({direction})")

    def _discriminator(self, o: dict[str, Any], n: dict[str, Any], where: str) -> None:
        old_map = (o.get("discriminator") or {}).get("mapping") or {}
        new_map = (n.get("discriminator") or {}).get("mapping") or {}
        removed = sorted(set(old_map) - set(new_map))
        if removed and n.get("discriminator"):
            self.report(where, f"removed discriminator value(s) {removed}")

    # ---- operations -------------------------------------------------------------------------

    def _params(self, item: Node, op: Node, path: str) -> dict[tuple[str, str], Node]:
        out: dict[tuple[str, str], Node] = {}
        order = re.findall(r"\{([^{}]+)\}", path)
        for owner in (item, op):
            params = owner.get("parameters")
            for i in range(len(params.value) if params else 0):
                param = deref(params.child(i))
                where, name = param.value.get("in", ""), param.value.get("name", "")
                if where == "path" and name in order:
                    name = f"#{order.index(name)}"  # renaming a path variable breaks nothing
                elif where == "header":
                    name = name.lower()
                out[(where, name)] = param
        return out

    def _parameters(self, old_item: Node, old_op: Node, new_item: Node, new_op: Node,
                    old_path: str, new_path: str, where: str) -> None:  # fmt: skip
        old_params = self._params(old_item, old_op, old_path)
        new_params = self._params(new_item, new_op, new_path)
        for key, param in old_params.items():
            label = f"{where} parameter {param.value.get('in')}:{param.value.get('name')}"
            if key not in new_params:
                self.report(label, "removed parameter")
                continue
            new = new_params[key]
            if new.value.get("required") and not param.value.get("required"):
                self.report(label, "parameter became required")
            for attr in ("style", "explode", "allowReserved"):
                if param.value.get(attr) != new.value.get(attr):
                    self.report(label, f"parameter {attr} changed")
            if "schema" in param.value and "schema" in new.value:
                self.schema(param.child("schema"), new.child("schema"), REQUEST, label)
        for key, param in new_params.items():
            if key not in old_params and param.value.get("required"):
                label = f"{where} parameter {param.value.get('in')}:{param.value.get('name')}"
                self.report(label, "new required parameter")

    def _request_body(self, old_op: Node, new_op: Node, where: str) -> None:
        old_rb = deref(old_op.child("requestBody")) if "requestBody" in old_op.value else None
        new_rb = deref(new_op.child("requestBody")) if "requestBody" in new_op.value else None
        if new_rb is None:
            return
        if new_rb.value.get("required") and (old_rb is None or not old_rb.value.get("required")):
            self.report(f"{where} request body", "request body became required")
        if old_rb is None:
            return
        old_content = old_rb.value.get("content") or {}
        new_content = new_rb.value.get("content") or {}
        for media in old_content:
            if media not in new_content:
                self.report(f"{where} request body", f"media type {media} no longer accepted")
            elif "schema" in old_content[media] and "schema" in new_content[media]:
                self.schema(
                    old_rb.child("content").child(media).child("schema"),
                    new_rb.child("content").child(media).child("schema"),
                    REQUEST,
                    f"{where} request {media}",
                )

    def _responses(self, old_op: Node, new_op: Node, where: str) -> None:
        old_responses = old_op.get("responses")
        new_responses = new_op.get("responses")
        new_codes = set(new_responses.value) if new_responses else set()
        for status in old_responses.value if old_responses else ():
            label = f"{where} {status}"
            if status not in new_codes:
                if str(status).startswith(("2", "3")):
                    self.report(label, "removed response")
                continue
            old = deref(old_responses.child(status))
            new = deref(new_responses.child(status))  # type: ignore[union-attr]
            new_headers = {h.lower() for h in new.value.get("headers") or {}}
            for header in old.value.get("headers") or {}:
                if header.lower() not in new_headers:
                    self.report(label, f"removed response header {header}")
            old_content = old.value.get("content") or {}
            new_content = new.value.get("content") or {}
            for media in old_content:
                if media not in new_content:
                    self.report(label, f"removed response media type {media}")
                elif "schema" in old_content[media] and "schema" in new_content[media]:
                    self.schema(
                        old.child("content").child(media).child("schema"),
                        new.child("content").child(media).child("schema"),
                        RESPONSE,
                        f"{label} {media}",
                    )

    def run(self) -> list[str]:
        old_paths = self.old.get("paths")
        new_paths = self.new.get("paths")
        new_by_key = {_path_key(p): p for p in (new_paths.value if new_paths else {})}
        for path in old_paths.value if old_paths else {}:
            new_path = new_by_key.get(_path_key(path))
            if new_path is None:
                self.report(path, "removed path")
                continue
            old_item = deref(old_paths.child(path))  # type: ignore[union-attr]
            new_item = deref(new_paths.child(new_path))  # type: ignore[union-attr]
            for method in HTTP_METHODS:
                if method not in old_item.value:
                    continue
                where = f"{method.upper()} {path}"
                if method not in new_item.value:
                    self.report(where, "removed operation")
                    continue
                old_op, new_op = old_item.child(method), new_item.child(method)
                self._parameters(old_item, old_op, new_item, new_op, path, new_path, where)
                self._request_body(old_op, new_op, where)
                self._responses(old_op, new_op, where)

        old_schemas = (self.old.value.get("components") or {}).get("schemas") or {}
        new_schemas = (self.new.value.get("components") or {}).get("schemas") or {}
        reached = {uri for uri, _, _ in self._seen}
        for name in old_schemas:
            where = f"#/components/schemas/{name}"
            if name not in new_schemas:
                self.report(where, "removed schema (its generated type goes away)")
                continue
            old = self.old.child("components").child("schemas").child(name)
            if old.uri in reached:
                continue
            new = self.new.child("components").child("schemas").child(name)
            for direction in sorted(self.directions.get(name, {REQUEST, RESPONSE})):
                self.schema(old, new, direction, where)
        return sorted(set(self.findings))


def compare(old: Path, new: Path, asyncapi: Path | None = None) -> list[str]:
    """Breaking changes from `old` to `new`; `asyncapi` places realtime-only schemas."""
    return Comparison(old, new, asyncapi).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Breaking changes against the released spec.")
    parser.add_argument("--root", type=Path, default=REPO)
    parser.add_argument("--old", type=Path, default=None, help="default: newest release")
    parser.add_argument("--new", type=Path, default=None, help=f"default: {OPENAPI}")
    args = parser.parse_args(argv)
    old = args.old or newest_release(args.root)
    new = args.new or args.root / OPENAPI
    if old is None:
        print(f"no released spec under {args.root / RELEASED_DIR}; nothing to compare")
        return 0
    findings = compare(old, new, args.root / ASYNCAPI)
    for finding in findings:
        print(f"BREAKING {finding}")
    print(f"{new} vs {old}: {len(findings)} breaking change(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
