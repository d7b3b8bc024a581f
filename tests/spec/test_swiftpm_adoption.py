"""An iOS team adds QueueITAPI the two ways SwiftPM offers: by this repository's git URL (the
root Package.swift) and by path (generated/QueueITAPI, whose folder name is the package's
identity). Each way is resolved, and the git one built, by a small app package of its own; that
app also compiles the README's party snippet (PartyFeed, a vote, the errors) as pasted."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from spec_testkit import REPO, swift_executable

GENERATED = REPO / "generated" / "QueueITAPI"

APP_MANIFEST = """// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "PartyApp",
    platforms: [.macOS(.v10_15)],
    dependencies: [{dependency}],
    targets: [
        .executableTarget(
            name: "PartyApp",
            dependencies: [.product(name: "QueueITAPI", package: "{identity}")]
        ),
    ]
)
"""

APP_MAIN = """import Foundation
import QueueITAPI

let client = QueueITClient(baseURL: URL(string: "https://queueit.example")!, tokenProvider: { nil })
print(client.baseURL.absoluteString)

// An app still on a deprecated property gets the compiler's warning, naming the replacement.
func nowPlaying(_ playback: Playback) -> QueuedSong? { playback.current }

// The app's own UI, as the README's party snippet (Party.swift) calls it.
func show(_ queue: [QueuedSong], playing: QueuedSong?, members: [Member]) {}
func tell(_ message: String) {}
"""

SNIPPET_MARK = "<!-- the party snippet: compiled by tests/spec/test_swiftpm_adoption.py -->"


def readme_party_snippet() -> str:
    """The README's Swift party snippet, as an app would paste it."""
    text = (REPO / "README.md").read_text()
    assert SNIPPET_MARK in text, "the README lost its party snippet"
    block = text.split(SNIPPET_MARK, 1)[1].split("```swift\n", 1)[1].split("```", 1)[0]
    lines = [line.removeprefix("  ") for line in block.splitlines()]
    return "\n".join(lines) + "\n"


def swift(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [swift_executable(), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def dump(package_dir: Path) -> dict[str, Any]:
    done = swift("package", "dump-package", cwd=package_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest: dict[str, Any] = json.loads(done.stdout)
    manifest.pop("packageKind")  # where it was read from
    return manifest


def app(tmp_path: Path, dependency: str, identity: str) -> Path:
    root = tmp_path / "PartyApp"
    (root / "Sources" / "PartyApp").mkdir(parents=True)
    manifest = APP_MANIFEST.replace("{dependency}", dependency).replace("{identity}", identity)
    (root / "Package.swift").write_text(manifest)
    (root / "Sources" / "PartyApp" / "main.swift").write_text(APP_MAIN)
    (root / "Sources" / "PartyApp" / "Party.swift").write_text(readme_party_snippet())
    return root


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@queueit.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_root_manifest_is_the_generated_one_with_the_path_from_the_root() -> None:
    root, generated = dump(REPO), dump(GENERATED)
    assert root["name"] == generated["name"] == "QueueITAPI"
    for target in generated["targets"]:
        target["path"] = "generated/QueueITAPI/" + target["path"]
    assert root == generated


@pytest.mark.slow
def test_an_app_adds_the_package_by_git_url_and_builds(tmp_path: Path) -> None:
    # A repository as a host serves it: the root manifest and the generated package, tagged.
    served = tmp_path / "queueit-backend"
    served.mkdir()
    shutil.copy2(REPO / "Package.swift", served / "Package.swift")
    shutil.copytree(
        GENERATED, served / "generated" / "QueueITAPI", ignore=shutil.ignore_patterns(".build")
    )
    git("init", "-q", "-b", "main", cwd=served)
    git("add", "-A", cwd=served)
    git("commit", "-q", "-m", "release", cwd=served)
    git("tag", "1.0.0", cwd=served)

    root = app(tmp_path, f'.package(url: "file://{served}", from: "1.0.0")', "queueit-backend")
    done = swift("build", cwd=root)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "'current' is deprecated: Use `currentEntry`." in output, output[-3000:]
    # ... and it is the only warning shown (SwiftPM hides a URL dependency's own warnings,
    # so this does not prove the package builds without one)
    warnings = {line.strip() for line in output.splitlines() if ": warning: " in line}
    assert warnings and all("PartyApp/main.swift" in w for w in warnings), warnings
    resolved = json.loads((root / "Package.resolved").read_text())
    assert [p["identity"] for p in resolved["pins"]] == ["queueit-backend"]
    assert resolved["pins"][0]["state"]["version"] == "1.0.0"
    ran = subprocess.run(
        [root / ".build" / "debug" / "PartyApp"], capture_output=True, text=True, check=True
    )
    assert ran.stdout.strip() == "https://queueit.example"


def test_the_readme_party_snippet_is_about_twenty_lines() -> None:
    code = [line for line in readme_party_snippet().splitlines() if line.strip()]
    assert "PartyFeed(" in readme_party_snippet() and len(code) <= 24, len(code)


def test_an_app_adds_the_package_by_path_as_queueitapi(tmp_path: Path) -> None:
    root = app(tmp_path, f'.package(path: "{GENERATED}")', "QueueITAPI")
    done = swift("package", "describe", "--type", "json", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    described = json.loads(done.stdout)
    products = [d for t in described["targets"] for d in t.get("product_dependencies", [])]
    assert products == ["QueueITAPI"]
