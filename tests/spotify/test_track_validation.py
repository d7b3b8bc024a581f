"""validate_track / parse_track / image_url_problem: what may enter the system."""

from __future__ import annotations

from typing import Any

import pytest

from queueit.spotify import InvalidTrack, Track, image_url_problem, parse_track, validate_track

VALID: dict[str, Any] = {
    "id": "4uLU6hMCjMI75M1A2tKUQC",
    "isrc": "XXQIT2500001",
    "name": "Neon Harbor",
    "artists": "The Velvet Lanterns, Mira Vale",
    "album": "Songs for Comets",
    "duration_ms": 215_000,
    "image_url": "https://images.queueit.invalid/albums/abc/300.jpg",
    "explicit": False,
}


def test_valid_track() -> None:
    track = validate_track(**VALID)
    assert isinstance(track, Track)
    assert track.to_wire() == VALID


def test_optional_fields() -> None:
    track = parse_track(
        {k: v for k, v in VALID.items() if k not in ("isrc", "image_url", "explicit")}
    )
    assert (track.isrc, track.image_url, track.explicit) == (None, None, False)
    assert validate_track(**{**VALID, "album": ""}).album == ""
    long_ok = validate_track(**{**VALID, "name": "é" * 500, "duration_ms": 86_400_000})
    assert len(long_ok.name) == 500
    assert validate_track(**{**VALID, "name": "夜 🎶 Ünïcödé", "id": "a" * 64}).id == "a" * 64


def test_missing_fields_are_listed() -> None:
    with pytest.raises(InvalidTrack) as caught:
        parse_track({"id": "abc"})
    assert {f for f, _ in caught.value.errors} == {"name", "artists", "album", "duration_ms"}


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(InvalidTrack) as caught:
        validate_track(**{**VALID, "id": "", "name": "\x00", "image_url": "http://x.com/a"})
    assert [f for f, _ in caught.value.errors] == ["id", "name", "image_url"]
    assert caught.value.field == "id"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", ""),
        ("id", "a" * 65),
        ("id", "abc-def"),
        ("id", "abc def"),
        ("id", "abc\n"),
        ("id", "١٢٣"),  # Arabic-Indic digits: \d would take them, we don't
        ("id", "\uff41\uff42\uff43"),  # fullwidth letters
        ("id", "../../etc"),
        ("id", 123),
        ("id", None),
        ("isrc", "xxqit2500001"),
        ("isrc", "XXQIT250000"),
        ("isrc", "XXQIT25000012"),
        ("isrc", "XX-QIT-25-00001"),
        ("isrc", "12QIT2500001"),
        ("isrc", "XXQIT25A0001"),
        ("isrc", "XXQIT2500001\n"),
        ("isrc", ""),
        ("isrc", 1),
        ("name", ""),
        ("name", "   "),
        ("name", "x" * 501),
        ("name", "nul\x00byte"),
        ("name", "bell\x07"),
        ("name", "line\nbreak"),
        ("name", "tab\there"),
        ("name", "del\x7f"),
        ("name", "c1\x85"),
        ("name", "lone \ud800 surrogate"),
        ("name", None),
        ("name", ["list"]),
        ("artists", ""),
        ("artists", "a" * 501),
        ("artists", "esc\x1b[31m"),
        ("album", "a" * 501),
        ("album", "\x00"),
        ("album", None),
        ("duration_ms", 0),
        ("duration_ms", -1),
        ("duration_ms", 86_400_001),
        ("duration_ms", 10**30),
        ("duration_ms", 180000.0),
        ("duration_ms", "180000"),
        ("duration_ms", True),
        ("duration_ms", None),
        ("explicit", "false"),
        ("explicit", 0),
        ("explicit", None),
    ],
)
def test_hostile_field_values_rejected(field: str, value: object) -> None:
    with pytest.raises(InvalidTrack) as caught:
        validate_track(**{**VALID, field: value})
    assert caught.value.field == field


HOSTILE_IMAGE_URLS = [
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    " javascript:alert(1)",
    "data:image/png;base64,iVBORw0KGgo=",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://i.example.com/a.jpg",
    "http://i.example.com/a.jpg",
    "HTTPS://i.example.com/a.jpg",
    "//i.example.com/a.jpg",
    "/relative/a.jpg",
    "https:i.example.com/a.jpg",
    "https:/i.example.com/a.jpg",
    "https:///a.jpg",
    "https://",
    "https://user@i.example.com/a.jpg",
    "https://user:pass@i.example.com/a.jpg",
    "https://i.example.com@evil.example/a.jpg",
    "https://i.example.com%40evil.example/a.jpg",
    "https://evil.example\\@i.example.com/a.jpg",
    "https://evil.example\\.i.example.com/a.jpg",
    'https://i.example.com/a.jpg"onerror="alert(1)',
    "https://i.example.com/a.jpg'onerror='alert(1)",
    "https://i.example.com/<script>",
    "https://i.example.com/a b.jpg",
    "https://i.example.com/a.jpg\n",
    "https://i.example.com/a.jpg\x00.png",
    "https://i.example.com\t/a.jpg",
    "https://127.0.0.1/a.jpg",
    "https://10.0.0.1:8443/a.jpg",
    "https://[::1]/a.jpg",
    "https://[fe80::1%25en0]/a.jpg",
    "https://localhost/a.jpg",
    "https://2130706433/a.jpg",
    "https://i.ex\u0430mple.com/a.jpg",  # Cyrillic a: IDN must come as punycode
    "https://-bad-.example.com/a.jpg",
    "https://i..example.com/a.jpg",
    "https://i.example.com:0/a.jpg",
    "https://i.example.com:99999/a.jpg",
    "https://i.example.com:abc/a.jpg",
    "https://i.example.com:/a.jpg",
    "https://i.example.com/" + "a" * 2100,
    "https://" + "a" * 64 + ".example.com/a.jpg",
    "",
    42,
]


@pytest.mark.parametrize("url", HOSTILE_IMAGE_URLS)
def test_hostile_image_urls_rejected(url: object) -> None:
    assert image_url_problem(url) is not None
    with pytest.raises(InvalidTrack) as caught:
        validate_track(**{**VALID, "image_url": url})
    assert caught.value.field == "image_url"


@pytest.mark.parametrize(
    "url",
    [
        "https://i.scdn.co/image/ab67616d00001e02ff9ca10b55ce82ae553c8228",
        "https://images.queueit.invalid/albums/x/300.jpg",
        "https://cdn.example.com:8443/a.jpg?w=300&h=300#frag",
        "https://xn--exmple-4nf.com/a%20b.jpg",
        "https://i.example.com",
        "https://i.example.com./a.jpg",
    ],
)
def test_good_image_urls_accepted(url: str) -> None:
    assert image_url_problem(url) is None
    assert validate_track(**{**VALID, "image_url": url}).image_url == url
