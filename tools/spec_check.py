"""Checks the two hand-written specs must pass (DESIGN.md §1).

Each `check_*` function returns a list of problems (empty when the check passes); the tests in
tests/spec call them one by one, `python -m tools.spec_check` runs them all.
"""

from __future__ import annotations

import argparse
import heapq
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import FormatChecker
from jsonschema.exceptions import ValidationError, relevance
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tools import asyncapi_validate, portable
from tools.contract import (
    LOOKS_LIKE_DATETIME,
    REPO,
    WIRE_DATETIME,
    Example,
    Node,
    RefError,
    Specs,
    deref,
    iter_refs,
    load_yaml,
    resolve_ref,
    yaml_json_problems,
)

PROBLEM_MEDIA = "application/problem+json"
PROBLEM_FIELDS = ("type", "title", "status", "detail", "code", "request_id", "errors")
PROBLEM_REQUIRED = ("type", "title", "status", "detail", "code", "request_id")


# ---- validity -------------------------------------------------------------------------------


def check_openapi_valid(specs: Specs) -> list[str]:
    from jsonschema_path import SchemaPath
    from openapi_spec_validator import OpenAPIV31SpecValidator
    from openapi_spec_validator.readers import read_from_filename  # noqa: F401 (import check)

    doc = load_yaml(specs.openapi_path)
    if not str(doc.get("openapi", "")).startswith("3.1."):
        return [f"openapi: expected 3.1.x, found {doc.get('openapi')!r}"]
    path = SchemaPath.from_dict(doc, base_uri=specs.openapi_path.resolve().as_uri())
    problems = []
    for err in OpenAPIV31SpecValidator(path).iter_errors():
        loc = "/".join(str(p) for p in getattr(err, "absolute_path", []) or [])
        problems.append(f"openapi#/{loc}: {getattr(err, 'message', err)}")
    return problems


def check_asyncapi_valid(specs: Specs) -> list[str]:
    return asyncapi_validate.validate(specs.asyncapi_path)


def check_yaml_is_json(specs: Specs) -> list[str]:
    return yaml_json_problems(specs.openapi_path) + yaml_json_problems(specs.asyncapi_path)


def check_refs_resolve(specs: Specs) -> list[str]:
    """Every `$ref` in both specs, and in every file they reach, resolves."""
    problems: list[str] = []
    todo = [specs.openapi_path.resolve(), specs.asyncapi_path.resolve()]
    done: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in done:
            continue
        done.add(path)
        for ref in iter_refs(Node(load_yaml(path), path, "")):
            try:
                target = resolve_ref(ref.value["$ref"], ref.file)
            except RefError as exc:
                problems.append(f"{ref.where(specs.root)}: {exc}")
                continue
            todo.append(target.file)
    return problems


def check_asyncapi_payloads_in_openapi(specs: Specs) -> list[str]:
    """Event payloads live once, in OpenAPI components; AsyncAPI messages `$ref` them."""
    problems = []
    for msg in specs.messages():
        payload = specs.message_payload(msg)
        where = msg.where(specs.root)
        if payload is None:
            problems.append(f"{where}: message has no payload")
            continue
        ref = payload.value.get("$ref") if isinstance(payload.value, dict) else None
        try:
            target = deref(payload) if ref else None
        except RefError:
            continue  # reported by check_refs_resolve
        if target is None or specs.component_name(target) is None:
            problems.append(
                f"{where}: payload must be a $ref to "
                "../openapi/queueit.yaml#/components/schemas/<Name>"
            )
    return problems


# ---- examples -------------------------------------------------------------------------------


def _is_wire_datetime(value: str) -> bool:
    if not WIRE_DATETIME.match(value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


def _branch_errors(error: ValidationError) -> list[ValidationError] | None:
    """For a failed oneOf/anyOf with a discriminator: the errors of the branch it names."""
    discriminator = error.schema.get("discriminator") if isinstance(error.schema, dict) else None
    if not isinstance(discriminator, dict) or not isinstance(error.instance, dict):
        return None
    value = error.instance.get(discriminator.get("propertyName", ""))
    target = (discriminator.get("mapping") or {}).get(value)
    for i, branch in enumerate(error.validator_value):
        ref = branch.get("$ref", "") if isinstance(branch, dict) else ""
        if (target and ref == target) or (not target and ref.rsplit("/", 1)[-1] == value):
            return [e for e in error.context or [] if e.relative_schema_path[0] == i]
    return None


def _explain(errors: list[ValidationError]) -> ValidationError | None:
    """The error that says what is wrong (jsonschema's best_match, discriminator-aware).

    For a oneOf with a discriminator, best_match may pick an error from a branch the instance
    never meant (a `votes_updated` event judged as a `playback_changed` one); descend into the
    branch its discriminator value names instead.
    """
    best = max(errors, key=relevance, default=None)
    while best is not None and best.context:
        branch = _branch_errors(best) if best.validator in ("oneOf", "anyOf") else None
        if branch:
            best = max(branch, key=relevance)
            continue
        smallest = heapq.nsmallest(2, best.context, key=relevance)
        if len(smallest) == 2 and relevance(smallest[0]) == relevance(smallest[1]):
            return best
        best = smallest[0]
    return best


class ExampleValidator:
    """Validates example values against their schemas (JSON Schema 2020-12, OAS 3.1 dialect)."""

    def __init__(self) -> None:
        self.registry: Registry[Any] = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]

    @staticmethod
    def _retrieve(uri: str) -> Resource[Any]:
        if not uri.startswith("file://"):
            raise ValueError(f"refusing to fetch {uri}")
        from urllib.parse import unquote, urlparse

        doc = load_yaml(Path(unquote(urlparse(uri).path)))
        return Resource.from_contents(doc, default_specification=DRAFT202012)

    def validate(self, example: Example) -> tuple[list[str], list[str]]:
        """(problems, date-time values the schema checked) for one example."""
        dates: list[str] = []

        def date_time(instance: object) -> bool:
            if not isinstance(instance, str):
                return True
            dates.append(instance)
            return _is_wire_datetime(instance)

        checker = FormatChecker(formats=())
        checker.checkers = dict(oas31_format_checker.checkers)
        checker.checkers["date-time"] = (date_time, ())
        validator = OAS31Validator(
            {"$ref": example.schema.uri}, registry=self.registry, format_checker=checker
        )
        problems = []
        error = _explain(list(validator.iter_errors(example.value.value)))
        if error is not None:
            at = "/".join(str(p) for p in error.absolute_path)
            hint = ""
            if error.validator == "format" and error.validator_value == "date-time":
                hint = " (the wire format is YYYY-MM-DDTHH:MM:SSZ)"
            problems.append(f"at /{at}: {error.message}{hint}")
        return problems, sorted(set(dates))


def iter_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in iter_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in iter_strings(v)]
    return []


def datetime_like(value: Any) -> list[str]:
    """Strings in an example that look like a date-time, whatever their schema says."""
    return [s for s in iter_strings(value) if LOOKS_LIKE_DATETIME.match(s)]


def check_examples_validate(specs: Specs) -> list[str]:
    validator = ExampleValidator()
    problems = []
    for ex in specs.all_examples():
        errors, _ = validator.validate(ex)
        problems += [f"{ex.where} [{ex.value.where(specs.root)}]: {e}" for e in errors]
    return problems


def check_example_datetimes(specs: Specs) -> list[str]:
    """Every date-time in every example is `YYYY-MM-DDTHH:MM:SSZ`."""
    validator = ExampleValidator()
    problems = []
    for ex in specs.all_examples():
        _, checked = validator.validate(ex)
        for value in sorted(set(checked) | set(datetime_like(ex.value.value))):
            if not _is_wire_datetime(value):
                problems.append(
                    f"{ex.where} [{ex.value.where(specs.root)}]: {value!r} is not "
                    "YYYY-MM-DDTHH:MM:SSZ"
                )
    return sorted(set(problems))


def check_component_examples_used(specs: Specs) -> list[str]:
    """A component example no one references is never validated: flag it."""
    comps = specs.openapi.get("components")
    examples = comps.get("examples") if comps else None
    if examples is None:
        return []
    used = {ex.value.pointer for ex in specs.all_examples()}
    return [
        f"components/examples/{name} is referenced by no media type, parameter or header"
        for name in examples.value
        if f"{examples.child(name).pointer}/value" not in used
    ]


# ---- operations -----------------------------------------------------------------------------


def _has_example(media: Node) -> bool:
    value = media.value
    return "example" in value or bool(value.get("examples"))


def _is_error_status(status: str) -> bool:
    return status == "default" or status[:1] in ("4", "5")


def check_operations(specs: Specs) -> list[str]:
    """operationId, security, problem+json errors, examples on every body."""
    doc = specs.openapi.value
    schemes = set(((doc.get("components") or {}).get("securitySchemes") or {}).keys())
    root_security = doc.get("security")
    problems = []
    seen_ids: dict[str, str] = {}
    for path, method, item, op in specs.operations():
        label = f"{method.upper()} {path}"
        op_id = op.value.get("operationId")
        if not op_id:
            problems.append(f"{label}: no operationId")
        elif op_id in seen_ids:
            problems.append(f"{label}: operationId {op_id!r} also used by {seen_ids[op_id]}")
        else:
            seen_ids[op_id] = label

        security = op.value.get("security", root_security)
        if security is None:
            problems.append(f"{label}: no security (declare it, or `security: []` if public)")
        for requirement in security or []:
            for name in requirement:
                if name not in schemes:
                    problems.append(f"{label}: security scheme {name!r} is not defined")

        declared = {
            p.value.get("name") for p in specs.parameters(item, op) if p.value.get("in") == "path"
        }
        templated = set(re.findall(r"\{([^{}]+)\}", path))
        for name in sorted(templated - declared):
            problems.append(f"{label}: path parameter {name!r} is not declared")

        rb = op.get("requestBody")
        if rb is not None:
            content = deref(rb).value.get("content") or {}
            for media_type in content:
                media = deref(rb).child("content").child(media_type)
                if not _has_example(media):
                    problems.append(f"{label}: request body {media_type} has no example")

        responses = op.get("responses")
        has_problem = False
        for status in responses.value if responses else ():
            resp = deref(responses.child(status))
            content = resp.value.get("content") or {}
            status = str(status)
            for media_type in content:
                media = resp.child("content").child(media_type)
                if "schema" in media.value and not _has_example(media):
                    problems.append(f"{label}: response {status} {media_type} has no example")
            if _is_error_status(status):
                if PROBLEM_MEDIA in content:
                    has_problem = True
                others = [m for m in content if m != PROBLEM_MEDIA]
                if not content and status != "default":
                    problems.append(f"{label}: error response {status} has no {PROBLEM_MEDIA} body")
                elif others:
                    problems.append(
                        f"{label}: error response {status} offers {others}; errors are "
                        f"{PROBLEM_MEDIA} only"
                    )
        if not has_problem:
            problems.append(f"{label}: no error response with {PROBLEM_MEDIA}")
    return problems


def check_problem_schema(specs: Specs) -> list[str]:
    """Every problem+json body is the RFC 9457 problem with QueueIT's `code` and `request_id`."""
    problems = []
    seen: set[str] = set()
    for slot in specs.openapi_slots():
        if not slot.label.endswith(PROBLEM_MEDIA):
            continue
        schema = deref(slot.schema)
        if schema.uri in seen:
            continue
        seen.add(schema.uri)
        props = schema.value.get("properties") or {}
        required = set(schema.value.get("required") or [])
        where = schema.where(specs.root)
        missing = [f for f in PROBLEM_FIELDS if f not in props]
        if missing:
            problems.append(f"{where}: problem schema lacks properties {missing}")
        not_required = [f for f in PROBLEM_REQUIRED if f not in required]
        if not_required:
            problems.append(f"{where}: problem fields {not_required} should be required")
        if "code" in props:
            code = deref(schema.child("properties").child("code"))
            if "enum" not in code.value:
                problems.append(f"{where}: problem `code` should be an enum")
            else:
                problems += _problem_messages(code, specs)
    return problems


def _problem_messages(code: Node, specs: Specs) -> list[str]:
    """`x-messages`: a non-empty message for people for every code, and for nothing else."""
    where = code.where(specs.root)
    messages = code.value.get("x-messages")
    if not isinstance(messages, dict):
        return [f"{where}: the problem codes need `x-messages` (a message for people per code)"]
    codes = list(code.value["enum"])
    problems = [f"{where}: no x-messages entry for {c!r}" for c in codes if c not in messages]
    problems += [f"{where}: x-messages has {k!r}, not a code" for k in messages if k not in codes]
    problems += [
        f"{where}: x-messages[{k!r}] is empty"
        for k, v in messages.items()
        if not (isinstance(v, str) and v.strip())
    ]
    return problems


def check_bodies_are_components(specs: Specs) -> list[str]:
    """JSON bodies use named component schemas, so every generator names the same type."""
    problems = []
    for slot in specs.openapi_slots():
        if not slot.json_body or slot.kind not in ("request", "response"):
            continue
        _, name, _ = specs._typed(slot.schema)
        if name is None:
            problems.append(
                f"{slot.label}: body schema should be a $ref to #/components/schemas/<Name> "
                "(or an array of one)"
            )
    return sorted(set(problems))


def check_request_id_header(specs: Specs) -> list[str]:
    """Every response documents `X-Request-ID` (DESIGN.md §1)."""
    problems = []
    for path, method, _item, op in specs.operations():
        responses = op.get("responses")
        for status in responses.value if responses else ():
            resp = deref(responses.child(status))
            headers = {h.lower() for h in (resp.value.get("headers") or {})}
            if "x-request-id" not in headers:
                problems.append(f"{method.upper()} {path} {status}: no X-Request-ID header")
    return problems


_TABLE_ROW = re.compile(r"^\| (\d{4}) \| (.+?) \| (.+?) \|$")


def check_close_codes(specs: Specs) -> list[str]:
    """The channel's `x-close-codes` (for generators) says what the description's table says."""
    text = str(specs.asyncapi.value.get("info", {}).get("description", ""))
    table = {int(m.group(1)): m.group(2) for line in text.splitlines()
             if (m := _TABLE_ROW.match(line.strip()))}  # fmt: skip
    data: dict[int, str] = {}
    channels = specs.asyncapi.value.get("channels") or {}
    for channel in channels.values():
        for row in (channel or {}).get("x-close-codes") or []:
            data[int(row["code"])] = str(row.get("meaning", ""))
    if not table and not data:
        return []
    problems = [f"close code {c} is in the description table but not in x-close-codes"
                for c in sorted(set(table) - set(data))]  # fmt: skip
    problems += [f"close code {c} is in x-close-codes but not in the description table"
                 for c in sorted(set(data) - set(table))]  # fmt: skip
    problems += [
        f"close code {c}: x-close-codes says {data[c]!r}, the table {table[c]!r}"
        for c in sorted(set(table) & set(data))
        if data[c] != table[c]
    ]
    return problems


def check_portable_shapes(specs: Specs) -> list[str]:
    """No property shape a mainstream generator drops or misreads (tools/portable.py)."""
    return portable.portability_problems(specs, specs.root)


CHECKS: dict[str, Callable[[Specs], list[str]]] = {
    "openapi is valid OpenAPI 3.1": check_openapi_valid,
    "asyncapi is valid AsyncAPI 3.0": check_asyncapi_valid,
    "YAML reads the same as JSON": check_yaml_is_json,
    "every $ref resolves": check_refs_resolve,
    "asyncapi payloads are openapi components": check_asyncapi_payloads_in_openapi,
    "every example validates": check_examples_validate,
    "every example date-time is YYYY-MM-DDTHH:MM:SSZ": check_example_datetimes,
    "every component example is used": check_component_examples_used,
    "operations: id, security, problem+json, examples": check_operations,
    "problem+json schema": check_problem_schema,
    "bodies are component schemas": check_bodies_are_components,
    "responses document X-Request-ID": check_request_id_header,
    "schemas use portable shapes": check_portable_shapes,
    "x-close-codes match the close-code table": check_close_codes,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check the OpenAPI and AsyncAPI specs.")
    parser.add_argument("--root", type=Path, default=REPO)
    args = parser.parse_args(argv)
    specs = Specs(args.root)
    failed = 0
    for title, check in CHECKS.items():
        try:
            problems = check(specs)
        except Exception as exc:  # a broken spec can break a check: report, go on
            problems = [f"check crashed: {type(exc).__name__}: {exc}"]
        status = "ok" if not problems else f"{len(problems)} problem(s)"
        print(f"[{'PASS' if not problems else 'FAIL'}] {title}: {status}")
        for problem in problems:
            print(f"    - {problem}")
        failed += bool(problems)
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
