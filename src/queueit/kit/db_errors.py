"""Request-level database errors (by SQLSTATE) as problems.

Errors the services expect are checked or caught where they happen, with a specific code
(`join_code_taken`, `not_queued`, ...). What reaches this table is a race or a rule the database
enforced first: it still answers with the right status instead of a 500. Anything not listed
(including a trigger's RAISE, SQLSTATE P0001) stays a logged 500.
"""

from __future__ import annotations

import asyncpg

from queueit.http.problems import (
    Conflict,
    Forbidden,
    NotFound,
    ProblemError,
    ValidationFailed,
)

_BY_SQLSTATE: dict[str, tuple[type[ProblemError], str]] = {
    "42501": (Forbidden, "You are not allowed to do this."),
    "P0002": (NotFound, "Not found."),
    "23503": (NotFound, "Something this refers to does not exist."),
    "55000": (Conflict, "This conflicts with the current state; refresh and retry."),
    "23505": (Conflict, "This conflicts with a concurrent change; refresh and retry."),
    "40001": (Conflict, "This conflicts with a concurrent change; retry."),
    "40P01": (Conflict, "This conflicts with a concurrent change; retry."),
    "23514": (ValidationFailed, "A value is out of range."),
    "22023": (ValidationFailed, "A value is invalid."),
    "22001": (ValidationFailed, "A value is too long."),
    "22P02": (ValidationFailed, "A value is malformed."),
    "23502": (ValidationFailed, "A required value is missing."),
}


def to_problem(exc: asyncpg.PostgresError) -> ProblemError | None:
    """The problem for a database error a request caused, or None (a server error)."""
    entry = _BY_SQLSTATE.get(getattr(exc, "sqlstate", "") or "")
    if entry is None:
        return None
    cls, detail = entry
    return cls(detail=detail)
