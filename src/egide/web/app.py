"""The FastAPI application: routers, error handlers, health endpoints."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from egide import __version__
from egide.core.errors import EgideError
from egide.services.registry import Services
from egide.web import problems
from egide.web.api import content, session, spaces, tokens, tree


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Égide",
        version=__version__,
        description="Encrypted vault for health documents. Contract: API.md (REST API v1).",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.services = services
    app.add_exception_handler(EgideError, problems.handle_egide_error)
    app.add_exception_handler(RequestValidationError, problems.handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, problems.handle_http_error)
    for router in (session.router, tokens.router, spaces.router, content.router, tree.router):
        app.include_router(router)

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Readiness: database, blob store, keys")
    def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        for name, check in (
            ("database", services.db.ping),
            ("blobstore", services.blobs.check),
            ("keys", services.keys.check),
        ):
            try:
                check()
                checks[name] = "ok"
            except EgideError as exc:
                checks[name] = exc.render()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    return app
