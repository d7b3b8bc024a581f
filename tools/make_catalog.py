#!/usr/bin/env python3
"""Write the offline search catalog, src/queueit/data/catalog.json, deterministically.

Everything in it is invented: artist, album and track names are combinations of ordinary words
and made-up names; ISRCs use the country code "XX" (an ISO 3166 user-assigned code, allocated to
no ISRC agency) and the registrant "QIT"; ids are random 22-character base62 strings; images are
null or URLs on images.queueit.invalid (a reserved TLD: nothing is ever fetched, no artwork).

    python tools/make_catalog.py            # (re)write the catalog
    python tools/make_catalog.py --check    # exit 1 when the committed file differs (CI drift)

Same seed, same bytes: no timestamps, fixed key order, one track per line for readable diffs.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
from pathlib import Path

SEED = 20251122
TRACK_COUNT = 640
OUT = Path(__file__).resolve().parent.parent / "src" / "queueit" / "data" / "catalog.json"
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
IMAGE_HOST = "https://images.queueit.invalid"

ADJECTIVES = """Neon Velvet Golden Silent Electric Paper Midnight Crimson Hollow Silver Wild Lunar
Static Amber Broken Glass Little Endless Sapphire Restless Faded Northern Sugar Cosmic Honey Quiet
Burning Frozen Secret Distant Copper Violet Marble Tidal Scarlet Gentle Rusty Lucky Dizzy Hazy
Ultraviolet Slow Bright Lonely Plastic Analog Sleepless Borrowed Salty Weightless""".split()
NOUNS = """Harbor Lanterns Echoes Satellite Orchard Highway Mirrors Tides Comets Avenue Garden
Signals Parade Foxes Rivers Postcards Engines Balloons Meadow Skyline Circuits Pines Lighthouse
Carousel Fireflies Horizon Weather Compass Kites Arcade Tramlines Glaciers Magnets Sparrows
Rooftops Radios Oceans Embers Tangerines Cassettes Planets Wolves Swimmers Daydreams Bicycles
Pinwheels""".split()
FIRST_NAMES = """Mira Jonah Elio Sana Tavi Noor Iker Lucía Zoë Anouk Kofi Amara Ren Yuki Dara Oskar
Inès Matteo Priya Aurelio Saoirse Tomás Leila Niko Maren Felix Ada Idris Juno Céleste""".split()
LAST_NAMES = [
    n.replace("_", " ")
    for n in """Vale Marlowe Quist Arden Lindqvist Moreau
Castellane Oduya Halloway Brannock Sørensen Kaminski Delacroix Ferreira Nakamura Okafor Brightwater
Linden Achterberg Solano Whitlock Varga Ó_Ceallaigh Esposito Haddad""".split()
]
PLACES = """Lisbon Osaka Marseille Reykjavík Valparaíso Tangier Montréal Tbilisi Paradise Kyoto
Brooklyn Havana Tallinn Nairobi Seville Oaxaca Bergen Zanzibar""".split()
VERBS = """Dancing Falling Running Waiting Driving Floating Shining Drifting Burning Calling
Chasing Dreaming""".split()
FIXED_ARTISTS = [  # a few non-ASCII names to keep accent- and script-insensitive search honest
    "Café Lumière",
    "Señor Niebla",
    "Mørkeskog",
    "Łukasz Wiatr",
    "星野ミナ",
    "하늘빛",
    "Les Éphémères",
    "Dvořák Street Band",
]
VERSIONS = [" (Acoustic)", " (Live)", " - Radio Edit", " (Night Version)", " - Remastered"]


def make_id(rng: random.Random, used: set[str]) -> str:
    while True:
        candidate = "".join(rng.choice(BASE62) for _ in range(22))
        if candidate not in used:
            used.add(candidate)
            return candidate


def artist_name(rng: random.Random) -> str:
    form = rng.random()
    if form < 0.30:
        return f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    if form < 0.55:
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    if form < 0.70:
        return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    if form < 0.82:
        return f"{rng.choice(FIRST_NAMES)} & the {rng.choice(NOUNS)}"
    if form < 0.92:
        return f"DJ {rng.choice(NOUNS)}"
    return f"{rng.choice(NOUNS)}{rng.choice(['wave', 'core', 'lux', 'tone', 'field'])}"


def track_title(rng: random.Random) -> str:
    form = rng.random()
    if form < 0.25:
        return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    if form < 0.40:
        return f"{rng.choice(VERBS)} in {rng.choice(PLACES)}"
    if form < 0.52:
        return f"{rng.choice(NOUNS)} of {rng.choice(PLACES)}"
    if form < 0.57:
        return f"Letters to {rng.choice(FIRST_NAMES)}"
    if form < 0.62:
        return f"{rng.choice(NOUNS)} Don't {rng.choice(['Sleep', 'Wait', 'Lie', 'Sing'])}"
    if form < 0.72:
        return f"{rng.choice(PLACES)} at {rng.choice(['Dawn', 'Midnight', '3AM', 'Noon'])}"
    if form < 0.82:
        return rng.choice(NOUNS)
    if form < 0.90:
        return f"{rng.choice(VERBS)} {rng.choice(['Home', 'Away', 'Slow', 'Backwards'])}"
    return f"{rng.choice(ADJECTIVES)} {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"


def album_title(rng: random.Random, artist: str) -> str:
    form = rng.random()
    if form < 0.15:
        return artist  # self-titled
    if form < 0.45:
        return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    if form < 0.60:
        return f"Songs for {rng.choice(NOUNS)}"
    if form < 0.75:
        return rng.choice(NOUNS)
    if form < 0.88:
        return f"{rng.choice(PLACES)} Sessions"
    return f"Vol. {rng.choice(['II', 'III', 'IV'])}"


def duration_ms(rng: random.Random) -> int:
    form = rng.random()
    if form < 0.03:
        return rng.randint(30_000, 90_000)  # interlude
    if form < 0.05:
        return rng.randint(480_000, 780_000)  # extended mix
    return int(min(max(rng.gauss(215_000, 45_000), 95_000), 420_000))


def build(seed: int = SEED, count: int = TRACK_COUNT) -> list[dict[str, object]]:
    rng = random.Random(seed)
    used_ids: set[str] = set()
    isrc_seq: dict[int, int] = {}
    artists: list[str] = list(FIXED_ARTISTS)
    while len(artists) < 90:
        name = artist_name(rng)
        if name not in artists:
            artists.append(name)
    # artist popularity: a few hits, a long tail
    fame = {
        a: max(5, int(95 / (1 + i * 0.08)) - rng.randint(0, 10))
        for i, a in enumerate(rng.sample(artists, len(artists)))
    }
    tracks: list[dict[str, object]] = []
    seen_titles: set[tuple[str, str]] = set()
    # every artist gets one release first, then releases go to random artists
    queue = list(artists)
    while len(tracks) < count:
        artist = queue.pop(0) if queue else rng.choice(artists)
        album = album_title(rng, artist)
        album_id = make_id(rng, used_ids)
        image = None if rng.random() < 0.15 else f"{IMAGE_HOST}/albums/{album_id}/300.jpg"
        year = rng.randint(1998, 2025) % 100
        explicit_bias = rng.choice([0.0, 0.05, 0.3, 0.6])
        size = 1 if rng.random() < 0.2 else rng.randint(3, 10)
        for _ in range(size):
            if len(tracks) >= count:
                break
            title = track_title(rng)
            if rng.random() < 0.08:
                title += rng.choice(VERSIONS)
            if (title, artist) in seen_titles:
                continue
            seen_titles.add((title, artist))
            credited = [artist]
            if rng.random() < 0.12:
                credited.append(rng.choice([a for a in artists if a != artist]))
            isrc: str | None = None
            if rng.random() > 0.02:
                isrc_seq[year] = isrc_seq.get(year, 0) + 1
                isrc = f"XXQIT{year:02d}{isrc_seq[year]:05d}"
            popularity = min(100, max(0, fame[artist] + rng.randint(-15, 10)))
            tracks.append(
                {
                    "id": make_id(rng, used_ids),
                    "isrc": isrc,
                    "name": title,
                    "artists": ", ".join(credited),
                    "album": title if size == 1 else album,
                    "duration_ms": duration_ms(rng),
                    "image_url": image,
                    "explicit": rng.random() < explicit_bias,
                    "popularity": popularity,
                }
            )
    return tracks


def render(tracks: list[dict[str, object]], seed: int = SEED) -> str:
    lines = [
        "{",
        '  "generator": "tools/make_catalog.py",',
        '  "note": "Invented metadata for offline development. Do not edit; regenerate.",',
        f'  "seed": {seed},',
        f'  "count": {len(tracks)},',
        '  "tracks": [',
    ]
    rows = [json.dumps(t, ensure_ascii=False) for t in tracks]
    lines.extend(f"    {row}," for row in rows[:-1])
    lines.append(f"    {rows[-1]}")
    lines.extend(["  ]", "}", ""])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    tracks = build()
    text = render(tracks)
    if args.check:
        current = args.out.read_text("utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run python tools/make_catalog.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, "utf-8")
    print(f"wrote {args.out} ({len(tracks)} tracks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
