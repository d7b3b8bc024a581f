"""The schemathesis schema of the job, and the one way every request of it is sent and judged.

    SCHEMA = ct_schema.load()                  # openapi/queueit.yaml + schemathesis.toml + seed
    ct_schema.send(case, base_url=..., headers=..., source="fuzz", role="host")

`send` makes the request, counts it, captures its body for the Swift test, then runs every
check: schemathesis' built-in ones and QueueIT's (ct_checks), and raises on any failure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ct_checks  # noqa: F401 - registers QueueIT's checks
import ct_seed
import schemathesis
from ct_capture import CORPUS
from ct_stats import STATS
from schemathesis import Case, Response
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi.checks import RejectedPositiveData

from queueit.contract_files import OPENAPI_PATH

CONFIG_PATH = Path(__file__).resolve().parent / "schemathesis.toml"
# Called with (case, response, results) after every validation (test_contract_bites listens).
LISTENERS: list[Callable[[Case, Response, list[Any]], None]] = []
_source = ""  # the `source` of the case being validated (send() sets it)

# Schema-valid requests the spec itself says may get 422 with these codes: a track the
# session's rules refuse (openapi/queueit.yaml, addSong: "Refused (403/409/422 with a specific
# code) when ... the track is too long, or explicit tracks are not allowed"). Any other 422 to
# schema-valid data stays a failure.
RULE_422 = {"addSong": {"track_too_long", "explicit_not_allowed"}}


def load_config() -> SchemathesisConfig:
    config = SchemathesisConfig.from_path(CONFIG_PATH)
    config.update(seed=ct_seed.seed(), max_failures=None)
    return config


@functools.cache
def load() -> Any:
    schema = schemathesis.openapi.from_path(OPENAPI_PATH, config=load_config())
    schema.config.generation.update(max_examples=ct_seed.examples())

    @schema.hook
    def after_validate(context: Any, case: Case, response: Response, results: list[Any]) -> None:
        if _source != "bites":  # the deliberately broken app's failures are not the server's
            STATS.check_results(results)
        for listener in LISTENERS:
            listener(case, response, results)

    @schema.hook
    def filter_failure(context: Any, failure: Any, case: Case, response: Response) -> bool:
        if isinstance(failure, RejectedPositiveData) and response.status_code == 422:
            codes = RULE_422.get(operation_id(case), set())
            try:
                code = response.json().get("code")
            except (ValueError, AttributeError):
                code = None
            return code not in codes
        return True

    return schema


def operation_id(case: Case) -> str:
    return str(case.operation.definition.raw["operationId"])


def send(
    case: Case,
    *,
    base_url: str | None = None,
    app: Any = None,
    headers: dict[str, str],
    source: str,
    role: str,
    on_response: Callable[[int, Any], None] | None = None,
    capture: bool = True,
) -> Response:
    """Send `case` (over HTTP to `base_url`, or to the ASGI `app`), record it, then validate the
    response (raises schemathesis' FailureGroup on any check failure)."""
    global _source
    _source = source
    transport: dict[str, Any] = {"app": app} if app is not None else {"base_url": base_url}
    response = case.call(headers=headers, **transport)
    op_id = operation_id(case)
    if source == "bites":
        STATS.count("bite cases sent to the broken app")
    else:
        STATS.case(source, case.operation.label, role, response.status_code)
    if capture:
        CORPUS.add_response(op_id, response.status_code, response.content)
    if on_response is not None:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        on_response(response.status_code, body)
    case.validate_response(
        response,
        headers=headers,
        transport_kwargs={**transport, "headers": dict(headers)},
    )
    return response
