"""Request bodies validated strictly against the contract's models.

FastAPI validates bodies in pydantic's lax mode, which would take `{"vote_value": "1"}` or
`{"queue_locked": "true"}` although the contract says integer / boolean. `json_body(Model)` parses
the raw JSON in strict mode instead; what fails is the same problem as elsewhere (400
`malformed_json` for broken JSON, 422 with `errors[]` for schema violations, 415 for a body that
is not JSON).

    async def endpoint(body: Annotated[VoteRequest, json_body(VoteRequest)]) -> Response: ...
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from queueit.http.problems import ProblemError

M = TypeVar("M", bound=BaseModel)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def json_body(model: type[M], *, required: bool = True) -> Any:
    """A dependency giving the body as `model` (None for an absent optional body)."""

    async def parse(request: Request) -> M | None:
        raw = await request.body()
        if not raw.strip():
            if not required:
                return None
            raise RequestValidationError(
                [{"type": "missing", "loc": ("body",), "msg": "A JSON body is required"}]
            )
        content_type = request.headers.get("content-type")
        if content_type is not None and not _is_json(content_type):
            raise ProblemError(
                "unsupported_media_type",
                f"The body must be application/json, not {content_type[:100]}.",
                status=415,
            )
        try:
            return model.model_validate_json(raw, strict=True)
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from None

    return Depends(parse)
