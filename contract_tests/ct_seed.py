"""The one seed of a contract run, so any failure can be replayed.

Precedence: `pytest --hypothesis-seed=N`, then QUEUEIT_FUZZ_SEED=N, else a fresh random seed.
Every schemathesis test derives its Hypothesis seed from it (per operation), the stateful run
and the socket fuzzing use it directly. QUEUEIT_FUZZ_EXAMPLES=N changes the generated cases per
operation and role (default 100, never fewer in CI).
"""

from __future__ import annotations

import os
import random

DEFAULT_EXAMPLES = 100

_seed: int | None = None
_source = "random"


def configure(forced: object | None = None) -> None:
    global _seed, _source
    if forced not in (None, ""):
        _seed, _source = int(str(forced)), "--hypothesis-seed"
    elif os.environ.get("QUEUEIT_FUZZ_SEED"):
        _seed, _source = int(os.environ["QUEUEIT_FUZZ_SEED"]), "QUEUEIT_FUZZ_SEED"
    elif _seed is None:
        _seed, _source = random.SystemRandom().getrandbits(63), "random"


def seed() -> int:
    if _seed is None:
        configure()
    assert _seed is not None
    return _seed


def examples() -> int:
    return int(os.environ.get("QUEUEIT_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))


def describe() -> str:
    return (
        f"contract fuzz seed: {seed()} ({_source}); replay with QUEUEIT_FUZZ_SEED={seed()}"
        f" (or --hypothesis-seed={seed()}); {examples()} generated cases per operation and role"
    )
