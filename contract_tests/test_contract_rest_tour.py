"""The scripted party through every REST operation (ct_tour): every operation answers its
documented success, the typical refusals answer what the spec says, and every response passes
every check the fuzzer applies."""

from __future__ import annotations

from typing import Any

import ct_spec


def test_every_operation_succeeds_in_the_tour(rest_tour: Any) -> None:
    missing = [
        op_id
        for op_id in ct_spec.operations()
        if not any(200 <= status < 300 for status in rest_tour.statuses.get(op_id, {}))
    ]
    assert not missing, f"the tour never got a 2xx from: {missing}"


def test_the_tour_saw_the_refusals(rest_tour: Any) -> None:
    seen = {status for statuses in rest_tour.statuses.values() for status in statuses}
    assert {401, 403, 404, 409} <= seen, sorted(seen)
