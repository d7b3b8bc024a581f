"""Schemathesis against the live service, from the hand-written openapi/queueit.yaml.

Every operation, as every role (host and guest of a party, an outsider with a valid token in no
session, and no token at all), through the examples, coverage and fuzzing phases with positive
and negative data and every built-in check plus QueueIT's own (ct_checks); then the stateful
phase, following the spec's links. Zero failures is the bar.

Replay a failure: the seed printed in the header and the summary, and `-k` words of the failing
test's name (schemathesis' per-operation items cannot be selected by node id), e.g.
    QUEUEIT_FUZZ_SEED=123 .venv/bin/pytest contract_tests/test_contract_fuzz.py \
        -k "songs/add and guest"          # test_operation[POST /api/v1/songs/add][guest]
The same seed sends the same generated requests; the server's ids (users, sessions, entries) are
fresh in every run. Each failure also prints a curl command that repeats the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ct_schema
import ct_seed
import ct_spec
import hypothesis
import pytest
from ct_capture import CORPUS
from ct_party import Party
from ct_stats import STATS
from hypothesis import HealthCheck
from hypothesis.errors import Flaky
from hypothesis.stateful import get_state_machine_test
from schemathesis.core.failures import FailureGroup
from schemathesis.engine.errors import is_inconsistent_replay

SCHEMA = ct_schema.load()
ROLES = ("host", "guest", "outsider", "anonymous")


@pytest.fixture
def party(live: Any) -> Iterator[Party]:
    with live.http() as http:
        yield Party(live, http)


@pytest.mark.parametrize("role", ROLES)
@SCHEMA.parametrize()
# Health checks are about generation speed, not the server: a busy 2-core CI box must not fail
# them. The function-scoped `party` is shared by the cases of one test on purpose.
@hypothesis.settings(suppress_health_check=list(HealthCheck))
def test_operation(case: Any, role: str, party: Party, live: Any) -> None:
    op_id = ct_schema.operation_id(case)
    party.ensure()
    party.steer(case, op_id)
    ct_schema.send(
        case,
        base_url=live.url,
        headers=party.headers(role),
        source="fuzz",
        role=role,
        on_response=lambda status, body: party.after(op_id, role, case, status, body),
    )


def test_every_operation_answered_success_and_errors() -> None:
    """The fuzzing reached the implementation: every operation answered a 2xx at least once and
    a 4xx at least once (an operation that only ever 404s is not implemented)."""
    seen = STATS.per_operation("fuzz")
    assert seen, "run this with the fuzz tests above (nothing was fuzzed in this session)"
    expected = {f"{method} {path}" for method, path in _operations()}
    missing = sorted(expected - set(seen))
    no_success = sorted(label for label, statuses in seen.items() if not _any(statuses, 200))
    no_error = sorted(label for label, statuses in seen.items() if not _any(statuses, 400))
    assert not missing, f"never fuzzed: {missing}"
    assert not no_success, f"never answered 2xx: {no_success}\n{_table(seen)}"
    assert not no_error, f"never answered 4xx: {no_error}\n{_table(seen)}"
    # An operation with no parameters and no body has one possible request: Hypothesis sends it
    # (per role, plus the coverage phase's other methods) and stops; the others get >= 100.
    varied = {
        f"{m} {p}" for op_id, (m, p) in ct_spec.operations().items() if ct_spec.has_inputs(op_id)
    }
    too_few = {
        label: sum(seen[label].values()) for label in varied if sum(seen[label].values()) < 100
    }
    assert not too_few, f"fewer than 100 cases: {too_few}"


def _operations() -> Iterator[tuple[str, str]]:
    yield from ct_spec.operations().values()


def _any(statuses: Any, base: int) -> bool:
    return any(base <= status < base + 100 for status in statuses)


def _table(seen: dict[str, Any]) -> str:
    return "\n".join(f"  {label}: {dict(sorted(s.items()))}" for label, s in sorted(seen.items()))


# --- stateful: sequences along the spec's links ------------------------------------------------

# Failures as they happen (a scenario against a live server need not replay the same way, so
# Hypothesis' own report of it may come out as `Flaky`; this list is the record).
STATEFUL_FAILURES: list[str] = []


class PartyMachine(SCHEMA.as_state_machine()):  # type: ignore[misc]
    """Each scenario is a fresh user; links carry the ids (createSession -> settings, members,
    events, history; addSong -> vote, remove; ...)."""

    live: Any = None

    def setup(self) -> None:
        name = self.live.new_name("stateful")
        self.headers = {"Authorization": f"Bearer {self.live.token(name)}"}
        self.steps: list[str] = []

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"base_url": self.live.url, "headers": self.headers}

    def call(self, case: Any, **kwargs: Any) -> Any:
        response = case.call(**kwargs)
        self.steps.append(f"{case.operation.label} -> {response.status_code}")
        STATS.case("stateful", case.operation.label, "stateful", response.status_code)
        CORPUS.add_response(ct_schema.operation_id(case), response.status_code, response.content)
        return response

    def validate_response(
        self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        try:
            case.validate_response(
                response,
                headers=self.headers,
                additional_checks=additional_checks,
                transport_kwargs=kwargs,
                recorder=self.recorder,
            )
        except FailureGroup as exc:
            STATEFUL_FAILURES.append("steps:\n  " + "\n  ".join(self.steps) + f"\n{exc}")
            raise


def test_stateful_links(live: Any) -> None:
    PartyMachine.live = live
    STATEFUL_FAILURES.clear()
    settings = hypothesis.settings(
        max_examples=max(25, ct_seed.examples() // 2),
        stateful_step_count=SCHEMA.config.phases.stateful.max_steps,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate],  # no shrinking: a live server does not replay
    )
    for attempt in range(3):
        test = get_state_machine_test(PartyMachine, settings=settings, _min_steps=2)
        hypothesis.seed(ct_seed.seed() + attempt)(test)
        try:
            test()
            break
        except (Exception, FailureGroup) as exc:
            if STATEFUL_FAILURES:
                break
            if isinstance(exc, Flaky) or is_inconsistent_replay(exc):
                continue  # generation went differently against live state: go on, new seed
            raise
    assert not STATEFUL_FAILURES, "\n\n".join(dict.fromkeys(STATEFUL_FAILURES))
    assert sum(sum(c.values()) for (s, _, _), c in STATS.cases.items() if s == "stateful") > 0
