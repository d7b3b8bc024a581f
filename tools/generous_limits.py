"""Rate limits too high to matter, for the servers the tests and the contract job start: a
429 must not mask what a test or the fuzzer sends. Derived from the settings, so a new
`rate_limit_*` setting cannot be forgotten here (the tests of the limits set their own)."""

from __future__ import annotations

from queueit.config import Settings

GENEROUS = 1_000_000


def generous_limits() -> dict[str, int]:
    """``{"rate_limit_writes_per_minute": 1000000, ...}``, as Settings keyword arguments."""
    return {name: GENEROUS for name in Settings.model_fields if name.startswith("rate_limit_")}


def generous_limits_env() -> dict[str, str]:
    """The same as environment variables, for a service started as a process."""
    return {name.upper(): str(value) for name, value in generous_limits().items()}
