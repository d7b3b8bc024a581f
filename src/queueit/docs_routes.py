"""Serve the hand-written specs and offline Swagger UI 5 (fastapi-offline's assets, no CDN)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

from queueit.contract_files import ASYNCAPI_PATH, OPENAPI_PATH, openapi_document, raw
from queueit.http.rendering import respond

router = APIRouter(include_in_schema=False)
_ASSETS = Path(fastapi_offline.__file__).parent / "static"


@router.get("/openapi.json")
async def openapi_json() -> Response:
    return respond(openapi_document())


@router.get("/openapi.yaml")
@router.get("/openapi/queueit.yaml")
async def openapi_yaml() -> Response:
    return Response(raw(OPENAPI_PATH), media_type="application/yaml")


@router.get("/asyncapi.yaml")
async def asyncapi_yaml() -> Response:
    return Response(raw(ASYNCAPI_PATH), media_type="application/yaml")


@router.get("/docs")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="QueueIT API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon.png",
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/docs/assets", StaticFiles(directory=str(_ASSETS)), name="docs-assets")
