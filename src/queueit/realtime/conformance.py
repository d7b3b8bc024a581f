"""Judge realtime messages against asyncapi/queueit.yaml — for tests and contract tests.

    from queueit.realtime.conformance import validate_server_message, validate_client_message
    validate_server_message(json.loads(frame))   # raises ConformanceError when it is not conformant

The message catalogue is read from the AsyncAPI document itself: the messages of the operation
with `action: send` are what the server may send, those of `action: receive` what a client may
send. Each message's payload `$ref` (into ../openapi/queueit.yaml) is resolved with `referencing`
and checked with JSON Schema Draft 2020-12 (formats included). On top of the schemas, every string
in the message that looks like a date-time must be the wire format `YYYY-MM-DDTHH:MM:SSZ`.

Needs the dev dependencies `jsonschema`, `referencing` and PyYAML; imported lazily, so the service
never loads them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

import yaml  # type: ignore[import-untyped,unused-ignore]

from queueit.contract_files import ASYNCAPI_PATH
from queueit.realtime.protocol import WIRE_TIMESTAMP

LOOKS_LIKE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


class ConformanceError(AssertionError):
    """A message does not conform to the realtime contract."""


class _JsonLoader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    """SafeLoader without YAML 1.1 timestamps: a date-time in the spec stays a string."""


_JsonLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_JsonLoader)  # noqa: S506 - a SafeLoader subclass


def _pointer(doc: Any, fragment: str) -> Any:
    node = doc
    for token in fragment.lstrip("/").split("/") if fragment else []:
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


class _Catalogue:
    """Validators by message `type`, for each direction."""

    def __init__(self, asyncapi_path: Path) -> None:
        from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
        from referencing import Registry
        from referencing.jsonschema import DRAFT202012

        asyncapi_path = asyncapi_path.resolve()
        self.asyncapi_uri = asyncapi_path.as_uri()
        self.asyncapi = _load(asyncapi_path)
        docs: dict[str, Any] = {}

        def document(uri: str) -> Any:
            if uri == self.asyncapi_uri:
                return self.asyncapi
            if uri not in docs:
                docs[uri] = _load(Path(uri.removeprefix("file://")))
            return docs[uri]

        def resolve(ref: str, base: str) -> tuple[str, Any]:
            target = urljoin(base, ref)
            uri, fragment = urldefrag(target)
            node = _pointer(document(uri), fragment)
            if isinstance(node, dict) and "$ref" in node and len(node) == 1:
                return resolve(node["$ref"], uri)
            return target, node

        payload_refs: dict[str, list[str]] = {"send": [], "receive": []}
        for operation in (self.asyncapi.get("operations") or {}).values():
            action = operation["action"]
            for message_ref in operation.get("messages", []):
                _, message = resolve(message_ref["$ref"], self.asyncapi_uri)
                payload = message["payload"]
                if "$ref" in payload:
                    payload_refs[action].append(urljoin(self.asyncapi_uri, payload["$ref"]))
                else:  # pragma: no cover - the spec keeps every payload in openapi
                    raise ValueError("inline AsyncAPI payloads are not supported")

        for uri in {urldefrag(ref)[0] for refs in payload_refs.values() for ref in refs}:
            document(uri)
        registry: Any = Registry().with_resources(
            (uri, DRAFT202012.create_resource(doc)) for uri, doc in docs.items()
        )
        self.openapi_uri = next(iter(docs)) if docs else ""
        self._registry = registry
        self._validator_class = Draft202012Validator
        self.by_type: dict[str, dict[str, list[Any]]] = {"send": {}, "receive": {}}
        for action, refs in payload_refs.items():
            for ref in dict.fromkeys(refs):
                _, schema = resolve(ref, self.asyncapi_uri)
                kind = schema.get("properties", {}).get("type", {}).get("const")
                if not isinstance(kind, str):  # pragma: no cover - every payload has a const type
                    raise ValueError(f"payload {ref} has no const `type`")
                validator = self._validator({"$ref": ref})
                self.by_type[action].setdefault(kind, []).append(validator)

    def _validator(self, schema: Mapping[str, Any]) -> Any:
        cls = self._validator_class
        return cls(schema, registry=self._registry, format_checker=cls.FORMAT_CHECKER)

    def schema_validator(self, name: str) -> Any:
        return self._validator({"$ref": f"{self.openapi_uri}#/components/schemas/{name}"})


@functools.lru_cache(maxsize=4)
def _catalogue(path: str) -> _Catalogue:
    return _Catalogue(Path(path))


def _check(validators: list[Any], message: Any, what: str) -> None:
    failures: list[str] = []
    for validator in validators:
        errors = sorted(validator.iter_errors(message), key=lambda e: list(e.absolute_path))
        if not errors:
            failures = []
            break
        failures = [
            f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in errors[:10]
        ]
    if failures:
        raise ConformanceError(f"{what} does not match its schema:\n  " + "\n  ".join(failures))
    bad = sorted(set(_bad_datetimes(message)))
    if bad:
        raise ConformanceError(
            f"{what} has date-times not in the wire format YYYY-MM-DDTHH:MM:SSZ: {bad}"
        )


def _bad_datetimes(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, str):
        if LOOKS_LIKE_DATETIME.match(value) and not WIRE_TIMESTAMP.match(value):
            yield f"{path or '(root)'}={value!r}"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _bad_datetimes(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _bad_datetimes(item, f"{path}/{index}")


def _validate(direction: str, message: Any, asyncapi_path: Path | None) -> None:
    catalogue = _catalogue(str(asyncapi_path or ASYNCAPI_PATH))
    who = "server" if direction == "send" else "client"
    if not isinstance(message, Mapping) or not isinstance(message.get("type"), str):
        raise ConformanceError(
            f"a {who} message must be an object with a string `type`: {message!r}"
        )
    validators = catalogue.by_type[direction].get(message["type"])
    if not validators:
        known = ", ".join(sorted(catalogue.by_type[direction]))
        raise ConformanceError(
            f"{message['type']!r} is not a {who} message of the contract (known: {known})"
        )
    _check(validators, message, f"{who} message {message['type']!r}")


def validate_server_message(message: Any, *, asyncapi_path: Path | None = None) -> None:
    """Raise ConformanceError unless `message` (decoded JSON) is a message the server may send."""
    _validate("send", message, asyncapi_path)


def validate_client_message(message: Any, *, asyncapi_path: Path | None = None) -> None:
    """Raise ConformanceError unless `message` (decoded JSON) is a message a client may send."""
    _validate("receive", message, asyncapi_path)


def validate_schema(name: str, instance: Any, *, asyncapi_path: Path | None = None) -> None:
    """Check `instance` against components/schemas/`name` of the OpenAPI document the AsyncAPI
    payloads refer to (e.g. "EventsPage" for `GET /sessions/{id}/events`), dates included."""
    catalogue = _catalogue(str(asyncapi_path or ASYNCAPI_PATH))
    _check([catalogue.schema_validator(name)], instance, name)


def server_message_types(*, asyncapi_path: Path | None = None) -> frozenset[str]:
    return frozenset(_catalogue(str(asyncapi_path or ASYNCAPI_PATH)).by_type["send"])
