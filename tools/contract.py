"""Loading the two specs, following `$ref`s across files, and finding every example.

The specs are YAML. They are read with a loader that keeps timestamps as strings (YAML 1.2 /
JSON semantics), because that is what they mean on the wire; `yaml_json_problems` separately
reports scalars that a plain `yaml.safe_load` (YAML 1.1) would turn into non-JSON values.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag

import yaml

REPO = Path(__file__).resolve().parents[1]
OPENAPI = Path("openapi/queueit.yaml")
ASYNCAPI = Path("asyncapi/queueit.yaml")
RELEASED_DIR = Path("openapi/released")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# The one wire format for date-times (DESIGN.md §1): RFC 3339, UTC, `Z`, whole seconds.
WIRE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# Anything that looks like a date-time, whatever the schema says about it.
LOOKS_LIKE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


class _JsonLoader(yaml.SafeLoader):
    """SafeLoader without the YAML 1.1 timestamp rule: `2025-11-22T10:30:00Z` stays a string."""


_JsonLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@functools.lru_cache(maxsize=64)
def _load_cached(path: Path, mtime_ns: int) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_JsonLoader)  # noqa: S506 - a SafeLoader subclass


def load_yaml(path: Path) -> Any:
    path = path.resolve()
    return _load_cached(path, path.stat().st_mtime_ns)


def yaml_json_problems(path: Path) -> list[str]:
    """Scalars that `yaml.safe_load` reads as something JSON has no word for.

    Unquoted timestamps become `datetime`, unquoted status codes become int keys: whoever serves
    or converts the spec with a plain YAML loader then gets a different document.
    """
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    problems: list[str] = []

    def walk(node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    problems.append(
                        f"{path.name}#{pointer}: key {key!r} is read as {type(key).__name__}; "
                        "quote it"
                    )
                walk(value, f"{pointer}/{escape(str(key))}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{pointer}/{i}")
        elif not isinstance(node, (str, int, float, bool, type(None))):
            problems.append(
                f"{path.name}#{pointer}: {node!r} is read as {type(node).__name__} by "
                "yaml.safe_load; quote it"
            )

    walk(data, "")
    return problems


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return unquote(token).replace("~1", "/").replace("~0", "~")


def pointer_get(doc: Any, pointer: str) -> Any:
    node = doc
    if pointer in ("", "/"):
        return node
    for raw in pointer.lstrip("/").split("/"):
        token = unescape(raw)
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict):
            node = node[token]
        else:
            raise KeyError(token)
    return node


class RefError(Exception):
    pass


@dataclass(frozen=True)
class Node:
    """A value in a spec file, with where it sits (file and JSON pointer)."""

    value: Any
    file: Path
    pointer: str

    def child(self, key: str | int) -> Node:
        return Node(self.value[key], self.file, f"{self.pointer}/{escape(str(key))}")

    def get(self, key: str) -> Node | None:
        if isinstance(self.value, dict) and key in self.value:
            return self.child(key)
        return None

    @property
    def uri(self) -> str:
        return f"{self.file.as_uri()}#{self.pointer}"

    def where(self, root: Path) -> str:
        try:
            name = self.file.relative_to(root)
        except ValueError:
            name = self.file
        return f"{name}#{self.pointer}"


def resolve_ref(ref: str, base: Path) -> Node:
    """The node a `$ref` written in file `base` points at."""
    target, fragment = urldefrag(ref)
    if target.startswith(("http://", "https://")):
        raise RefError(f"remote $ref not allowed: {ref}")
    path = (base.parent / unquote(target)).resolve() if target else base.resolve()
    if not path.is_file():
        raise RefError(f"$ref {ref!r}: no file {path}")
    doc = load_yaml(path)
    pointer = fragment or ""
    if pointer and not pointer.startswith("/"):
        raise RefError(f"$ref {ref!r}: only JSON-pointer fragments are supported")
    try:
        return Node(pointer_get(doc, pointer), path, pointer)
    except (KeyError, IndexError, ValueError):
        raise RefError(f"$ref {ref!r}: nothing at #{pointer} in {path.name}") from None


def deref(node: Node, limit: int = 20) -> Node:
    """Follow Reference Objects (`{"$ref": ...}`) until a real object."""
    seen = 0
    while isinstance(node.value, dict) and "$ref" in node.value:
        node = resolve_ref(node.value["$ref"], node.file)
        seen += 1
        if seen > limit:
            raise RefError(f"$ref chain too long at {node.uri}")
    return node


# Keys whose values are data (not spec objects): a `$ref` inside them is just text.
_DATA_KEYS = frozenset({"example", "default", "const", "enum", "value"})


def iter_refs(node: Node) -> Iterator[Node]:
    """Every `$ref` in a spec document (reference objects and schema refs), not in examples."""
    value = node.value
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            yield node
        for key in value:
            if key == "$ref" or key in _DATA_KEYS or str(key).startswith("x-"):
                continue
            # A list of examples (schema `examples`, AsyncAPI message examples) is data.
            if key == "examples" and isinstance(value[key], list):
                continue
            yield from iter_refs(node.child(key))
    elif isinstance(value, list):
        for i in range(len(value)):
            yield from iter_refs(node.child(i))


# Keywords under which a JSON Schema holds subschemas.
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SUBSCHEMA_ONE = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
)
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


def iter_subschemas(node: Node) -> Iterator[Node]:
    """A schema and every schema written inside it (not following `$ref`)."""
    if not isinstance(node.value, dict):
        return
    yield node
    for key in _SUBSCHEMA_MAPS:
        sub = node.get(key)
        if sub is not None and isinstance(sub.value, dict):
            for name in sub.value:
                yield from iter_subschemas(sub.child(name))
    for key in _SUBSCHEMA_ONE:
        sub = node.get(key)
        if sub is not None and isinstance(sub.value, dict):
            yield from iter_subschemas(sub)
    for key in _SUBSCHEMA_LISTS:
        sub = node.get(key)
        if sub is not None and isinstance(sub.value, list):
            for i in range(len(sub.value)):
                yield from iter_subschemas(sub.child(i))


def is_json_media(media_type: str) -> bool:
    base = media_type.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


@dataclass
class Example:
    """One example value and the schema it must satisfy."""

    where: str  # human-readable origin, e.g. "POST /api/v1/songs/add request application/json"
    value: Node  # the example value itself
    schema: Node  # the schema (resolved through a top-level $ref when there is one)
    kind: str  # request | response | parameter | header | schema | message
    component: str | None = None  # component schema name when the schema is one (for codegen)
    array: bool = False  # the schema is an array of `component`
    body: bool = False  # a JSON request/response/message body

    @property
    def key(self) -> tuple[str, str]:
        return (self.value.uri, self.schema.uri)


@dataclass(frozen=True)
class Slot:
    """A place that pairs a schema with examples: a media type, a parameter or a header."""

    label: str
    kind: str
    owner: Node  # the object holding `example`/`examples`
    schema: Node  # its `schema` (may be a `$ref`)
    json_body: bool


@dataclass
class Specs:
    root: Path
    openapi_path: Path = field(init=False)
    asyncapi_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.openapi_path = self.root / OPENAPI
        self.asyncapi_path = self.root / ASYNCAPI

    @property
    def openapi(self) -> Node:
        return Node(load_yaml(self.openapi_path), self.openapi_path.resolve(), "")

    @property
    def asyncapi(self) -> Node:
        return Node(load_yaml(self.asyncapi_path), self.asyncapi_path.resolve(), "")

    def component_name(self, schema: Node) -> str | None:
        """`X` when the node is `#/components/schemas/X` of the OpenAPI document."""
        match = re.fullmatch(r"/components/schemas/([^/]+)", schema.pointer)
        if match and schema.file == self.openapi_path.resolve():
            return unescape(match.group(1))
        return None

    def _typed(self, schema_ref: Node) -> tuple[Node, str | None, bool]:
        """Resolve a body schema and name the component type it is (or is an array of)."""
        schema = deref(schema_ref)
        name = self.component_name(schema)
        if name is not None:
            return schema, name, False
        items = schema.value.get("items") if isinstance(schema.value, dict) else None
        if schema.value.get("type") == "array" and isinstance(items, dict) and "$ref" in items:
            item_name = self.component_name(deref(schema.child("items")))
            if item_name is not None:
                return schema, item_name, True
        return schema, None, False

    # ---- OpenAPI -------------------------------------------------------------------------

    def operations(self) -> Iterator[tuple[str, str, Node, Node]]:
        """(path, method, path item, operation) for every operation."""
        paths = self.openapi.get("paths")
        if paths is None:
            return
        for path in paths.value:
            item = deref(paths.child(path))
            for method in HTTP_METHODS:
                op = item.get(method)
                if op is not None:
                    yield path, method, item, op

    def parameters(self, item: Node, op: Node) -> list[Node]:
        """The effective parameters of an operation (operation ones override path-item ones)."""
        found: dict[tuple[str, str], Node] = {}
        for owner in (item, op):
            params = owner.get("parameters")
            if params is None:
                continue
            for i in range(len(params.value)):
                param = deref(params.child(i))
                found[(param.value.get("in", ""), param.value.get("name", ""))] = param
        return list(found.values())

    @staticmethod
    def _example_values(owner: Node) -> Iterator[Node]:
        """`example` and the values of `examples` (Example Objects, maybe `$ref`ed)."""
        single = owner.get("example")
        if single is not None:
            yield single
        many = owner.get("examples")
        if many is not None and isinstance(many.value, dict):
            for name in many.value:
                ex = deref(many.child(name))
                value = ex.get("value")
                if value is not None:
                    yield value

    def _param_slots(self, label: str, param: Node) -> Iterator[Slot]:
        pname = f"{label} parameter {param.value.get('in')}:{param.value.get('name')}"
        if "schema" in param.value:
            yield Slot(pname, "parameter", param, param.child("schema"), False)
        content = param.get("content")
        for media_type in content.value if content else ():
            media = content.child(media_type)
            if "schema" in media.value:
                yield Slot(
                    f"{pname} {media_type}", "parameter", media, media.child("schema"), False
                )

    def _body_slots(self, label: str, owner: Node, kind: str) -> Iterator[Slot]:
        content = owner.get("content")
        for media_type in content.value if content else ():
            media = content.child(media_type)
            if isinstance(media.value, dict) and "schema" in media.value:
                yield Slot(
                    f"{label} {media_type}",
                    kind,
                    media,
                    media.child("schema"),
                    is_json_media(media_type),
                )

    def _response_slots(self, label: str, resp: Node) -> Iterator[Slot]:
        headers = resp.get("headers")
        for hname in headers.value if headers else ():
            header = deref(headers.child(hname))
            if "schema" in header.value:
                yield Slot(
                    f"{label} header {hname}", "header", header, header.child("schema"), False
                )
        yield from self._body_slots(label, resp, "response")

    def openapi_slots(self) -> Iterator[Slot]:
        """Every place of the OpenAPI document that pairs a schema with examples."""
        for path, method, item, op in self.operations():
            label = f"{method.upper()} {path}"
            for param in self.parameters(item, op):
                yield from self._param_slots(label, param)
            rb = op.get("requestBody")
            if rb is not None:
                yield from self._body_slots(f"{label} request", deref(rb), "request")
            responses = op.get("responses")
            for status in responses.value if responses else ():
                yield from self._response_slots(f"{label} {status}", deref(responses.child(status)))
        # Components no operation uses still carry examples that must hold.
        comps = self.openapi.get("components")
        for section in ("parameters", "requestBodies", "responses", "headers"):
            sec = comps.get(section) if comps else None
            for name in sec.value if sec else ():
                node = deref(sec.child(name))
                label = f"components/{section}/{name}"
                if section == "parameters":
                    yield from self._param_slots(label, node)
                elif section == "requestBodies":
                    yield from self._body_slots(label, node, "request")
                elif section == "responses":
                    yield from self._response_slots(label, node)
                elif "schema" in node.value:
                    yield Slot(label, "header", node, node.child("schema"), False)

    def openapi_examples(self) -> Iterator[Example]:
        for slot in self.openapi_slots():
            schema, name, array = self._typed(slot.schema)
            for value in self._example_values(slot.owner):
                yield Example(slot.label, value, schema, slot.kind, name, array, slot.json_body)

    def schema_roots(self) -> Iterator[Node]:
        """Component schemas of both documents and every inline schema the specs use."""
        for doc in (self.openapi, self.asyncapi):
            comps = doc.get("components")
            schemas = comps.get("schemas") if comps else None
            for name in schemas.value if schemas else ():
                yield schemas.child(name)
        for slot in self.openapi_slots():
            yield slot.schema
        for msg in self.messages():
            payload = self.message_payload(msg)
            if payload is not None:
                yield payload
            headers = msg.get("headers")
            if headers is not None:
                yield headers

    def schema_examples(self) -> Iterator[Example]:
        """`examples`/`example` written inside schemas, at any depth."""
        seen: set[str] = set()
        for root in self.schema_roots():
            for sub in iter_subschemas(root):
                if sub.uri in seen:
                    continue
                seen.add(sub.uri)
                name = self.component_name(sub)
                label = f"schema {sub.where(self.root)}"
                many = sub.get("examples")
                if many is not None and isinstance(many.value, list):
                    for i in range(len(many.value)):
                        yield Example(label, many.child(i), sub, "schema", name, body=bool(name))
                single = sub.get("example")
                if single is not None:
                    yield Example(label, single, sub, "schema", name, body=bool(name))

    # ---- AsyncAPI ------------------------------------------------------------------------

    def messages(self) -> Iterator[Node]:
        """Every message of the AsyncAPI document, each once (resolved through `$ref`)."""
        doc = self.asyncapi
        seen: set[str] = set()
        candidates: list[Node] = []
        comps = doc.get("components")
        msgs = comps.get("messages") if comps else None
        for name in msgs.value if msgs else ():
            candidates.append(msgs.child(name))
        channels = doc.get("channels")
        for cname in channels.value if channels else ():
            channel = deref(channels.child(cname))
            cm = channel.get("messages")
            for mname in cm.value if cm else ():
                candidates.append(cm.child(mname))
        for cand in candidates:
            msg = deref(cand)
            if msg.uri not in seen:
                seen.add(msg.uri)
                yield msg

    def message_payload(self, msg: Node) -> Node | None:
        payload = msg.get("payload")
        if payload is None:
            return None
        if isinstance(payload.value, dict) and "schemaFormat" in payload.value:
            payload = payload.child("schema")
        return payload

    def asyncapi_examples(self) -> Iterator[Example]:
        for msg in self.messages():
            label = f"message {msg.where(self.root)}"
            payload = self.message_payload(msg)
            headers = msg.get("headers")
            examples = msg.get("examples")
            if examples is None:
                continue
            for i in range(len(examples.value)):
                ex = examples.child(i)
                if payload is not None and ex.get("payload") is not None:
                    schema, name, array = self._typed(payload)
                    yield Example(
                        f"{label} example {i} payload",
                        ex.child("payload"),
                        schema,
                        "message",
                        name,
                        array,
                        body=True,
                    )
                if headers is not None and ex.get("headers") is not None:
                    yield Example(
                        f"{label} example {i} headers",
                        ex.child("headers"),
                        deref(headers),
                        "message",
                    )

    def all_examples(self) -> list[Example]:
        """Every example in both specs, each (value, schema) pair once."""
        seen: set[tuple[str, str]] = set()
        out: list[Example] = []
        for ex in (
            list(self.openapi_examples())
            + list(self.asyncapi_examples())
            + list(self.schema_examples())
        ):
            if ex.key not in seen:
                seen.add(ex.key)
                out.append(ex)
        return out
