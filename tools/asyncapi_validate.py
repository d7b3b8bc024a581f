"""Validate an AsyncAPI 3.0 document.

No installable Python package ships the official AsyncAPI 3.0.0 JSON Schema (asyncapi3,
pydantic-asyncapi, asyncapi-payload-validator, asyncapi-python, asyncapi-python-parser-jonaslagoni,
asyncapi-container and zen-generator were inspected; the last-but-two refers to a schema file it
does not ship). So validation is two layers:

1. Structure: the document is loaded into the `asyncapi3` object model (Pydantic v2 models of
   every AsyncAPI 3.0 object, closed to unknown keys except `x-` extensions, required fields and
   enums such as `action: send|receive` enforced).
2. Semantics the object model cannot see: the version is 3.0.0, every `$ref` resolves, operation
   channels point into `#/channels`, operation messages belong to the operation's channel, channel
   address parameters and `parameters` agree, channel servers exist, component keys follow the
   key pattern, message examples carry a payload or headers, inline payload schemas are valid
   JSON Schema.

Usage: python -m tools.asyncapi_validate [PATH]
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, SchemaError

from tools.contract import ASYNCAPI, REPO, Node, RefError, deref, iter_refs, load_yaml, resolve_ref

_COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9\.\-_]+$")
_ADDRESS_PARAM = re.compile(r"\{([^{}]+)\}")
_COMPONENT_SECTIONS = (
    "schemas",
    "servers",
    "channels",
    "operations",
    "messages",
    "securitySchemes",
    "serverVariables",
    "parameters",
    "correlationIds",
    "replies",
    "replyAddresses",
    "externalDocs",
    "tags",
    "operationTraits",
    "messageTraits",
    "serverBindings",
    "channelBindings",
    "operationBindings",
    "messageBindings",
)


def _structure_problems(doc: Any) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # asyncapi3 warns about its own field names
        from asyncapi3.models import AsyncAPI3
        from pydantic import ValidationError

    try:
        AsyncAPI3.model_validate(doc)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = "/".join(
                str(p) for p in err["loc"] if not str(p).startswith(("function-", "tagged"))
            )
            problems.append(f"structure: {loc}: {err['msg']}")
        # A union reports one error per alternative: keep each message once.
        return sorted(set(problems))
    return []


def _ref_target(node: Node, key: str) -> str | None:
    sub = node.value.get(key) if isinstance(node.value, dict) else None
    if isinstance(sub, dict) and isinstance(sub.get("$ref"), str):
        return sub["$ref"]
    return None


def validate(path: Path) -> list[str]:
    """All problems found in the AsyncAPI document at `path` (empty when it is valid)."""
    path = path.resolve()
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        return ["document is not a mapping"]
    problems: list[str] = []
    if doc.get("asyncapi") != "3.0.0":
        problems.append(f"asyncapi: expected '3.0.0', found {doc.get('asyncapi')!r}")
    problems += _structure_problems(doc)
    root = Node(doc, path, "")

    for ref in iter_refs(root):
        try:
            resolve_ref(ref.value["$ref"], ref.file)
        except RefError as exc:
            problems.append(f"{ref.pointer}: {exc}")

    comps = doc.get("components") or {}
    for section in _COMPONENT_SECTIONS:
        for key in comps.get(section) or {}:
            if not _COMPONENT_KEY.match(key):
                problems.append(
                    f"components/{section}/{key}: key must match {_COMPONENT_KEY.pattern}"
                )

    servers = set(doc.get("servers") or {})
    channels = doc.get("channels") or {}
    for cname in channels:
        try:
            channel = deref(root.child("channels").child(cname))
        except RefError:
            continue  # reported above
        address = channel.value.get("address")
        declared = set(channel.value.get("parameters") or {})
        used = set(_ADDRESS_PARAM.findall(address or ""))
        for name in sorted(used - declared):
            problems.append(f"channels/{cname}: address parameter {{{name}}} is not in parameters")
        for name in sorted(declared - used):
            problems.append(f"channels/{cname}: parameter {name} does not appear in the address")
        for i, server in enumerate(channel.value.get("servers") or []):
            target = server.get("$ref", "") if isinstance(server, dict) else ""
            if not target.startswith("#/servers/") or target.split("/")[-1] not in servers:
                problems.append(f"channels/{cname}/servers/{i}: must $ref a server in #/servers")

    operations = doc.get("operations") or {}
    for oname, raw in operations.items():
        where = f"operations/{oname}"
        if not isinstance(raw, dict):
            continue
        op = Node(raw, path, f"/operations/{oname}")
        try:
            op = deref(op)
        except RefError:
            continue
        channel_ref = _ref_target(op, "channel")
        if channel_ref is None or not channel_ref.startswith("#/channels/"):
            problems.append(f"{where}: channel must be a $ref to a channel in #/channels")
            continue
        for i, msg in enumerate(op.value.get("messages") or []):
            target = msg.get("$ref", "") if isinstance(msg, dict) else ""
            if not target.startswith(channel_ref + "/messages/"):
                problems.append(
                    f"{where}/messages/{i}: {target!r} is not a message of {channel_ref}"
                )
        reply = op.value.get("reply")
        if isinstance(reply, dict) and "$ref" not in reply:
            reply_channel = _ref_target(op.child("reply"), "channel")
            for i, msg in enumerate(reply.get("messages") or []):
                target = msg.get("$ref", "") if isinstance(msg, dict) else ""
                if reply_channel and not target.startswith(reply_channel + "/messages/"):
                    problems.append(
                        f"{where}/reply/messages/{i}: {target!r} is not a message of "
                        f"{reply_channel}"
                    )

    for mname, raw in (comps.get("messages") or {}).items():
        if not isinstance(raw, dict) or "$ref" in raw:
            continue
        for i, example in enumerate(raw.get("examples") or []):
            if not isinstance(example, dict) or not ({"payload", "headers"} & set(example)):
                problems.append(
                    f"components/messages/{mname}/examples/{i}: needs payload or headers"
                )
        payload = raw.get("payload")
        if isinstance(payload, dict) and "$ref" not in payload and "schemaFormat" not in payload:
            try:
                Draft7Validator.check_schema(payload)
            except SchemaError as exc:
                problems.append(f"components/messages/{mname}/payload: {exc.message}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=REPO / ASYNCAPI)
    args = parser.parse_args(argv)
    problems = validate(args.path)
    for problem in problems:
        print(f"{args.path}: {problem}")
    if not problems:
        print(f"{args.path}: valid AsyncAPI 3.0.0")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
