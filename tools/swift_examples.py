"""Fixtures for the Swift example-decoding tests in tests/swift-examples.

Writes, into tests/swift-examples/Tests/ExamplesTests/Generated/:
    examples.json          every JSON body example of both specs (request, response, schema and
                           AsyncAPI message examples) with the Swift type it must decode as, and
                           the date-time strings in it
    ExampleDecoders.swift  a switch from type name to `JSONDecoder.decode(T.self, ...)`, since
                           Swift cannot look a type up by its name

Usage:
    python -m tools.swift_examples [--root ROOT] [--swift DIR] [--out DIR]   write the fixtures
    python -m tools.swift_examples --run                                       ... and `swift test`
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator

from tools.contract import OPENAPI, REPO, Example, Specs
from tools.outdir import replace
from tools.spec_check import ExampleValidator, datetime_like

PACKAGE_DIR = Path("tests/swift-examples")
FIXTURE_DIR = PACKAGE_DIR / "Tests" / "ExamplesTests" / "Generated"


def swift_type_names(swift_dir: Path) -> dict[str, str]:
    """Component schema name -> Swift type, read from the generated model headers."""
    names = {}
    pattern = re.compile(r"^// Source: \S+#/components/schemas/(\S+)$", re.MULTILINE)
    for path in sorted((swift_dir / "Sources").rglob("Models/*.swift")):
        match = pattern.search(path.read_text())
        if match:
            names[match.group(1)] = path.stem
    return names


UNKNOWN = "x_value_from_the_future"


def _string_leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield from _string_leaves(sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _string_leaves(sub, (*path, i))


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = list(value) if isinstance(value, list) else dict(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


def _is_enum_slot(errors: list[ValidationError], path: tuple[Any, ...]) -> bool:
    """The only complaint about the mutated example is an unknown enum value at `path`: an
    `enum`/`const` miss there, an unknown discriminator value of a oneOf at its parent, or a
    oneOf/anyOf one of whose branches fails only for one of those reasons."""
    if not errors:
        return False
    for err in errors:
        at = tuple(err.absolute_path)
        if err.validator in ("enum", "const") and at == path:
            continue
        if err.validator in ("oneOf", "anyOf"):
            discriminator = err.schema.get("discriminator") if isinstance(err.schema, dict) else {}
            if (
                isinstance(discriminator, dict)
                and at == path[:-1]
                and discriminator.get("propertyName") == path[-1]
            ):
                continue
            branches: dict[Any, list[ValidationError]] = {}
            for sub in err.context or []:
                branches.setdefault(sub.relative_schema_path[0], []).append(sub)
            if any(_is_enum_slot(subs, path) for subs in branches.values()):
                continue
        return False
    return True


def unknown_value_variants(ex: Example, registry: Any) -> Iterator[tuple[str, Any]]:
    """The example with one enum (or discriminator) value replaced by a value no spec has.

    An old app must still decode what a newer server sends (DESIGN.md §1).
    """
    validator = OAS31Validator({"$ref": ex.schema.uri}, registry=registry)
    for path in _string_leaves(ex.value.value):
        mutated = _replaced(ex.value.value, path, UNKNOWN)
        if _is_enum_slot(list(validator.iter_errors(mutated)), path):
            yield "/" + "/".join(str(p) for p in path), mutated


_BUILTIN = {
    ("string", "date-time"): "Date",
    ("string", "uuid"): "UUID",
    ("string", None): "String",
    ("integer", None): "Int",
    ("number", None): "Double",
    ("boolean", None): "Bool",
}


def _builtin_swift_type(schema: Any) -> str | None:
    """The Swift type openapi-generator uses for a primitive component (it makes no type)."""
    if not isinstance(schema, dict) or "enum" in schema or not isinstance(schema.get("type"), str):
        return None
    fmt = schema.get("format")
    return _BUILTIN.get((schema["type"], fmt)) or _BUILTIN.get((schema["type"], None))


def build(root: Path, swift_dir: Path) -> dict[str, str]:
    """{file name: content} of the fixtures."""
    specs = Specs(root)
    types = swift_type_names(swift_dir)
    validator = ExampleValidator()
    items: list[dict[str, Any]] = []
    tolerant: list[dict[str, Any]] = []
    for ex in specs.all_examples():
        if not ex.body or ex.component is None:
            continue  # not a JSON body, or not a named type: tools.spec_check reports those
        swift_type = types.get(ex.component) or _builtin_swift_type(ex.schema.value)
        if swift_type is None:
            raise SystemExit(f"{ex.where}: no generated Swift type for {ex.component}")
        _, checked = validator.validate(ex)
        dates = sorted(set(checked) | set(datetime_like(ex.value.value)))
        ident = f"{ex.where} [{ex.value.where(specs.root)}]"
        items.append(
            {
                "id": ident,
                "schema": ex.schema.where(specs.root),
                "type": swift_type,
                "array": ex.array,
                "json": ex.value.value,
                "dates": dates,
            }
        )
        for at, mutated in unknown_value_variants(ex, validator.registry):
            tolerant.append(
                {
                    "id": f"{ident} with {at} = {UNKNOWN!r}",
                    "type": swift_type,
                    "array": ex.array,
                    "json": mutated,
                }
            )
    items.sort(key=lambda item: item["id"])
    tolerant.sort(key=lambda item: item["id"])
    examples = (
        json.dumps(
            {"examples": items, "unknown_values": tolerant},
            indent=2,
            sort_keys=True,
            ensure_ascii=False,
        )
        + "\n"
    )

    used = sorted({(item["type"], item["array"]) for item in items})
    cases = []
    for type_name, array in used:
        swift_type = f"[{type_name}]" if array else type_name
        cases.append(
            f'    case ("{type_name}", {str(array).lower()}):\n'
            f"        return try decoder.decode({swift_type}.self, from: data)"
        )
    decoders = "\n".join(
        [
            "//",
            "// ExampleDecoders.swift",
            "//",
            f"// DO NOT EDIT. Generated by `make generate` (tools/swift_examples.py) from "
            f"{OPENAPI.as_posix()}.",
            "// Swift cannot find a type by its name, so the examples name their type and this",
            "// switch decodes them.",
            "//",
            "",
            "import Foundation",
            "import QueueITAPI",
            "",
            "enum ExampleDecodingError: Error {",
            "    case noDecoder(String)",
            "}",
            "",
            "/// Decodes `data` as the generated type called `type` (an array of it when `array`).",
            "func decodeExample(",
            "    type: String, array: Bool, data: Data, decoder: JSONDecoder",
            ") throws -> any Encodable {",
            "    switch (type, array) {",
            *cases,
            "    default:",
            '        throw ExampleDecodingError.noDecoder("\\(type) array=\\(array)")',
            "    }",
            "}",
            "",
        ]
    )
    return {"examples.json": examples, "ExampleDecoders.swift": decoders}


def write(root: Path, swift_dir: Path, out: Path) -> None:
    files = build(root, swift_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, content in files.items():
        (out / name).write_text(content)


def run_swift_test(package_dir: Path, reencoded_out: Path | None = None) -> int:
    """`swift test` in the examples package; the re-encoded examples go to `reencoded_out`."""
    env = dict(os.environ)
    if reencoded_out is not None:
        env["QUEUEIT_SWIFT_REENCODED"] = str(reencoded_out)
    return subprocess.run(["swift", "test"], cwd=package_dir, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO)
    parser.add_argument("--swift", type=Path, default=None, help="generated Swift package")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--run", action="store_true", help="then run `swift test`")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        write(root, (args.swift or root / "generated" / "QueueITAPI").resolve(), Path(tmp) / "out")
        replace(Path(tmp) / "out", (args.out or root / FIXTURE_DIR).resolve())
    if args.run:
        return run_swift_test(root / PACKAGE_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
