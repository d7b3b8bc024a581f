"""generated/ is what the specs generate, reproducibly, and the generated code behaves.

The Python package is imported straight from generated/python (installed or not).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError
from spec_testkit import Editor

from tools import check_generated, gen_python, gen_swift_realtime
from tools.contract import REPO, Specs
from tools.generate import generate_into
from tools.outdir import files

GENERATED_PY = REPO / "generated" / "python"
GENERATED_SWIFT = REPO / "generated" / "QueueITAPI"


@pytest.fixture(scope="module")
def models() -> Any:
    if str(GENERATED_PY) not in sys.path:
        sys.path.insert(0, str(GENERATED_PY))
    import queueit_contract.models

    assert Path(queueit_contract.models.__file__).is_relative_to(GENERATED_PY)
    return queueit_contract.models


# ---- generation -------------------------------------------------------------------------------


def test_generated_code_is_up_to_date() -> None:
    report = check_generated.differences(REPO)
    assert not report, "run `make generate`:\n" + "\n".join(report[:80])


def test_generation_is_reproducible(mini_root: Path, tmp_path: Path) -> None:
    first = generate_into(mini_root, tmp_path / "one")
    second = generate_into(mini_root, tmp_path / "two")
    for name, folder in first.items():
        a, b = files(folder), files(second[name])
        assert a.keys() == b.keys(), name
        for rel in a:
            assert a[rel].read_bytes() == b[rel].read_bytes(), f"{name}/{rel} differs between runs"
            text = a[rel].read_text()
            assert str(tmp_path) not in text and str(mini_root) not in text, f"{rel}: a path"


def test_check_generated_reports_drift_and_generate_repairs_it(
    mini_root: Path, capsys: Any
) -> None:
    from tools import generate

    assert generate.main(["--root", str(mini_root)]) == 0
    assert check_generated.main(["--root", str(mini_root)]) == 0
    swift = mini_root / "generated" / "QueueITAPI"
    user = swift / "Sources" / "QueueITAPI" / "Models" / "User.swift"
    user.write_text(user.read_text() + "// hand edit\n")
    (mini_root / "generated" / "python" / "README.md").unlink()
    stale = swift / "Sources" / "QueueITAPI" / "Models" / "Old.swift"
    stale.write_text("x")
    cache = swift / ".build" / "keep.o"  # a build cache is not generated output
    cache.parent.mkdir()
    cache.write_text("x")

    assert check_generated.main(["--root", str(mini_root)]) == 1
    out = capsys.readouterr().out
    assert "changed  generated/QueueITAPI/Sources/QueueITAPI/Models/User.swift" in out
    assert "-// hand edit" in out
    assert "missing  generated/python/README.md" in out
    assert "extra    generated/QueueITAPI/Sources/QueueITAPI/Models/Old.swift" in out
    assert ".build" not in out

    assert generate.main(["--root", str(mini_root)]) == 0
    assert check_generated.main(["--root", str(mini_root)]) == 0
    assert cache.exists() and not stale.exists()


# ---- Swift package ----------------------------------------------------------------------------


def test_swift_package_depends_on_foundation_only() -> None:
    package = (GENERATED_SWIFT / "Package.swift").read_text()
    assert 'name: "QueueITAPI"' in package
    assert ".package(" not in package
    for path in (GENERATED_SWIFT / "Sources").rglob("*.swift"):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            match = re.match(r"import (\w+)$", line)
            if match and match.group(1) != "Foundation":
                # anything else only where the platform has it
                assert lines[i - 1].startswith("#if canImport("), (path.name, line)


def test_swift_urlsession_code_builds_on_linux() -> None:
    for path in (GENERATED_SWIFT / "Sources").rglob("*.swift"):
        text = path.read_text()
        if "URLSession" in text or "URLRequest" in text:
            assert "#if canImport(FoundationNetworking)\nimport FoundationNetworking" in text, path


def test_swift_files_say_do_not_edit_and_have_no_timestamp() -> None:
    for path in GENERATED_SWIFT.rglob("*.swift"):
        if ".build" in path.parts:
            continue
        text = path.read_text()
        assert "DO NOT EDIT" in text[:600], path
        assert "// Source: " in text[:600] or path.name == "Package.swift", path
        for line in text.splitlines()[:10]:
            stamp = re.search(r"\b20\d\d-\d\d-\d\d[T ]\d\d:\d\d", line)
            assert not (stamp and "generat" in line.lower()), (path, line)


def test_swift_enums_and_unions_keep_unknown_values() -> None:
    """Every enum is open (`.unknown(raw)` of the spec's type, not in allCases, every spec value
    mapped); every union keeps unknown JSON."""
    models = GENERATED_SWIFT / "Sources" / "QueueITAPI" / "Models"
    schemas = Specs(REPO).openapi.value["components"]["schemas"]
    swift_type = {"string": "String", "integer": "Int"}
    enums = unions = 0
    for path in models.glob("*.swift"):
        text = path.read_text()
        assert "unknownDefaultOpenApi" not in text, path  # the stock, lossy fallback
        assert not re.search(r"enum (?!\w*CodingKey)\w+: (?:String|Int),", text), path  # closed
        for name in re.findall(r"public enum (\w+): Sendable, Hashable, Codable, CaseIterable, "
                               r"RawRepresentable, OpenEnum \{", text):  # fmt: skip
            enums += 1
            schema = schemas.get(name)
            if schema is None or "enum" not in schema:  # an inline enum (a `type` property)
                block = text[text.index(f"public enum {name}:") :]
                init = re.search(r"public init\(rawValue: (String|Int)\)", block)
                assert init is not None, (path, name)
                raw = init.group(1)
                assert f"case unknown({raw})\n" in block, (path, name)
                assert f"decode({raw}.self)" in block, (path, name)
                continue
            raw = swift_type[schema["type"]]
            assert f"    case unknown({raw})\n" in text, (path, raw)
            assert f"public init(rawValue: {raw})" in text, path
            cases = re.search(r"allCases: \[\w+\] = \[(.*?)\]", text, re.S)
            assert cases is not None, path
            assert not re.search(r"\.unknown\b(?!\w)", cases.group(1)), path
            assert len(cases.group(1).split(",")) == len(schema["enum"]), path
            for value in schema["enum"]:
                literal = json.dumps(value)  # "host" for strings, -1 for integers
                assert re.search(rf"case {re.escape(literal)}: self = \.\w+", text), (path, value)
        if re.search(r"public enum \w+: Sendable, Codable, Hashable \{\n    case type", text):
            unions += 1
            assert "case unknown(JSONValue)" in text, path
            assert "try container.encodeNil()" not in text, path
    assert enums >= 10 and unions >= 1, (enums, unions)


def test_swift_dates_are_written_in_the_wire_format() -> None:
    formatter = next((GENERATED_SWIFT / "Sources").rglob("OpenISO8601DateFormatter.swift"))
    assert """dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'\"""" in formatter.read_text()


# ---- Python package ---------------------------------------------------------------------------


def test_python_package_metadata() -> None:
    meta = tomllib.loads((GENERATED_PY / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "queueit-contract"
    assert meta["project"]["version"] == str(Specs(REPO).openapi.value["info"]["version"])
    assert (GENERATED_PY / "queueit_contract" / "py.typed").exists()


def test_python_package_builds_an_sdist(tmp_path: Path) -> None:
    """The package builds offline through its PEP 517 backend, models and metadata included."""
    src = tmp_path / "src"
    shutil.copytree(GENERATED_PY, src, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    probe = f"from setuptools import build_meta; build_meta.build_sdist({str(tmp_path)!r})"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=src, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    import tarfile

    with tarfile.open(next(tmp_path.glob("*.tar.gz"))) as sdist:
        names = sdist.getnames()
        assert any(n.endswith("queueit_contract/models.py") for n in names), names
        pkg_info = next(n for n in names if n.count("/") == 1 and n.endswith("/PKG-INFO"))
        text = sdist.extractfile(pkg_info).read().decode()  # type: ignore[union-attr]
        requires = next(n for n in names if n.endswith("egg-info/requires.txt"))
        needs = sdist.extractfile(requires).read().decode()  # type: ignore[union-attr]
    assert "Name: queueit-contract" in text
    assert "pydantic" in needs


def test_every_component_schema_has_a_model(models: Any) -> None:
    schemas = Specs(REPO).openapi.value["components"]["schemas"]
    assert sorted(models.COMPONENT_MODELS) == sorted(schemas)


def test_python_models_round_trip_every_example(models: Any) -> None:
    failures = []
    count = 0
    for ex in Specs(REPO).all_examples():
        if ex.component is None:
            continue
        model = models.COMPONENT_MODELS[ex.component]
        adapter: TypeAdapter[Any] = TypeAdapter(list[model] if ex.array else model)
        count += 1
        try:
            value = adapter.validate_json(json.dumps(ex.value.value))
        except ValidationError as exc:
            failures.append(f"{ex.where}: does not validate: {exc}")
            continue
        back = adapter.dump_python(value, mode="json", by_alias=True, exclude_unset=True)
        if back != ex.value.value:
            failures.append(f"{ex.where}:\n  example {ex.value.value}\n  dumped  {back}")
    assert count > 0
    assert not failures, "\n".join(failures)


def _datetime_fields(models: Any) -> list[tuple[Any, str]]:
    from pydantic import BaseModel

    found = []
    for model in models.COMPONENT_MODELS.values():
        if isinstance(model, type) and issubclass(model, BaseModel):
            for name, field in model.model_fields.items():
                if "datetime" in repr(field.annotation).lower() or "Timestamp" in repr(
                    field.annotation
                ):
                    found.append((model, name))
    return found


def test_python_datetimes_are_aware_and_written_in_the_wire_format(models: Any) -> None:
    from datetime import datetime, timedelta, timezone

    fields = _datetime_fields(models)
    assert fields, "no date-time field found"
    for model, name in fields:
        adapter = TypeAdapter(model.model_fields[name].annotation)
        with pytest.raises(ValidationError):
            adapter.validate_python("2025-11-22T10:30:00")  # naive
        plus_one = timezone(timedelta(hours=1))
        value = adapter.validate_python(datetime(2025, 11, 22, 11, 30, 0, 123456, plus_one))
        assert adapter.dump_python(value, mode="json") == "2025-11-22T10:30:00Z", (model, name)


def test_python_event_unions_are_discriminated(models: Any) -> None:
    schemas = Specs(REPO).openapi.value["components"]["schemas"]
    unions = [n for n, s in schemas.items() if "oneOf" in s and "discriminator" in s]
    assert unions, "the spec has no discriminated union"
    for name in unions:
        core = TypeAdapter(models.COMPONENT_MODELS[name]).core_schema
        assert "tagged-union" in repr(core), name


# ---- the mini fixture through the same generator -----------------------------------------------


def test_asyncapi_only_payloads_get_a_realtime_module(
    mini_root: Path, edit_spec: Editor, tmp_path: Path
) -> None:
    edit_spec(
        mini_root,
        "asyncapi",
        lambda d: d["components"]["messages"].update(
            Ping={
                "name": "ping",
                "payload": {
                    "type": "object",
                    "required": ["type", "sent_at"],
                    "properties": {
                        "type": {"type": "string", "const": "ping"},
                        "sent_at": {"type": "string", "format": "date-time"},
                        "session": {"$ref": "../openapi/queueit.yaml#/components/schemas/Session"},
                    },
                },
            }
        ),
    )
    out = tmp_path / "py"
    gen_python.generate(mini_root, out)
    realtime = (out / "queueit_contract" / "realtime.py").read_text()
    assert "from queueit_contract.models import" in realtime
    probe = (
        "from queueit_contract.realtime import PingPayload;"
        "print(PingPayload.model_validate({'type': 'ping', 'sent_at': '2025-11-22T10:30:00Z'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(out)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_no_realtime_module_when_everything_lives_in_openapi(tmp_path: Path) -> None:
    out = tmp_path / "py"
    gen_python.generate(REPO / "tests" / "spec" / "fixtures" / "mini", out)
    assert not (out / "queueit_contract" / "realtime.py").exists()


def test_python_leaves_out_a_none_the_spec_does_not_allow(models: Any) -> None:
    """An optional property the spec does not let be null (the portable form of an optional
    object) is left out of the JSON when None; a nullable one still says `null`."""
    playback = models.Playback(
        state="stopped", current=None, started_at=None, skip_votes=0, skip_votes_needed=1
    )
    dumped = json.loads(models.Playback.__pydantic_serializer__.to_json(playback))
    assert "current_entry" not in dumped
    assert dumped["current"] is None and dumped["started_at"] is None
    assert "current_entry" not in playback.model_dump(mode="json")

    marked = gen_python._omitted_when_absent(
        Specs(REPO), [{"class_name": "Playback", "source_ref": "x#/components/schemas/Playback"}]
    )
    assert marked == {"Playback": {"current_entry"}}


def test_swift_realtime_types_come_from_the_asyncapi_spec() -> None:
    realtime = GENERATED_SWIFT / "Sources" / "QueueITAPI" / "Realtime"
    codes = (realtime / "RealtimeCloseCode.swift").read_text()
    rows = Specs(REPO).asyncapi.value["channels"]["sessionRealtime"]["x-close-codes"]
    for row in rows:
        assert f"case {row['code']}: self = .{row['name']}" in codes, row
        action = gen_swift_realtime.SWIFT_CASE.get(row["action"], row["action"])
        assert f"case .{row['name']}: return .{action}" in codes, row
    server = (realtime / "RealtimeServerMessage.swift").read_text()
    for wire in ("snapshot", "ping", "pong", "error"):
        assert f'case "{wire}":' in server, wire
    assert "case event(SessionEvent)" in server and "case unknown(JSONValue)" in server
