"""The FastAPI application: routers, error handlers, health endpoints."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from egide import __version__
from egide.core.errors import EgideError
from egide.services.antivirus.service import AntivirusWorker
from egide.services.audit.worker import AuditWorker
from egide.services.mail.worker import MailWorker
from egide.services.notifications.worker import NotificationWorker
from egide.services.registry import Services
from egide.web import openapi, problems, ui
from egide.web.api import content, mfa, session, spaces, tokens, tree, uploads
from egide.web.api.admin import router as admin_router
from egide.web.api.audit import router as audit_router
from egide.web.api.audit_reports import router as audit_reports_router
from egide.web.api.device import router as device_router
from egide.web.api.incidents import router as incidents_router
from egide.web.api.links import router as links_router
from egide.web.api.notifications import router as notifications_router
from egide.web.api.passkeys import router as passkeys_router
from egide.web.api.restore import router as restore_router
from egide.web.api.sessions import router as sessions_router
from egide.web.api.shared import router as shared_router
from egide.web.api.sso import router as sso_router
from egide.web.observability import Metrics, ObservabilityMiddleware
from egide.web.ratelimit import AddressBudget
from egide.web.security_headers import SecurityHeadersMiddleware


def create_app(services: Services, *, background: bool = False) -> FastAPI:
    """The application on `services`; `background` also runs the audit worker
    while it serves (egide serve does; in-process tests drive the log
    themselves)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker = AuditWorker.for_services(services) if background else None
        mailer = MailWorker(services.mail.sender) if background else None
        notifier = NotificationWorker(services.notifications) if background else None
        rescanner = (
            AntivirusWorker(
                services.antivirus, interval=services.settings.antivirus_rescan_interval_seconds
            )
            if background and services.antivirus.scanner is not None
            else None
        )
        if rescanner is not None:
            rescanner.start()
        if worker is not None:
            worker.start()
        if mailer is not None:
            mailer.start()
        if notifier is not None:
            notifier.start()
        try:
            yield
        finally:
            if rescanner is not None:
                await anyio.to_thread.run_sync(rescanner.stop)
            if notifier is not None:
                await anyio.to_thread.run_sync(notifier.stop)
            if mailer is not None:
                await anyio.to_thread.run_sync(mailer.stop)
            if worker is not None:
                await anyio.to_thread.run_sync(worker.stop)

    app = FastAPI(
        lifespan=lifespan,
        title="Égide",
        version=__version__,
        description="Encrypted vault for health documents. Contract: API.md (REST API v1).",
        # No Swagger UI page: FastAPI's loads from a CDN with an inline script,
        # which the Content-Security-Policy (and the no-CDN rule) forbid.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.services = services
    metrics = Metrics()
    app.state.metrics = metrics
    app.state.unauthenticated_budget = AddressBudget(
        services.settings.unauthenticated_requests_per_minute
    )
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    # Outermost: the same security headers on every response (ADR 0022).
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_exception_handler(EgideError, problems.handle_egide_error)
    app.add_exception_handler(RequestValidationError, problems.handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, problems.handle_http_error)
    app.add_exception_handler(405, _method_not_allowed)
    for router in (
        session.router,
        mfa.router,
        passkeys_router,
        tokens.router,
        spaces.router,
        content.router,
        tree.router,
        uploads.router,
        audit_router,
        audit_reports_router,
        sessions_router,
        sso_router,
        device_router,
        links_router,
        shared_router,
        incidents_router,
        restore_router,
        notifications_router,
        admin_router,
    ):
        app.include_router(router)

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
    )
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: database, blob store, keys",
        responses={
            200: {"description": "Ready", "content": {"application/json": {}}},
            503: {
                "description": "Not ready: `checks` says which part failed",
                "content": {"application/json": {}},
            },
        },
    )
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

    # The web interface: index.html on its routes, /assets (ADR 0022).
    ui.install(app)
    openapi.install(app)
    return app


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    """405 with `Allow` naming every method of the path (RFC 9110 15.5.6).

    FastAPI makes one route per method, and Starlette's 405 lists only the
    methods of the first route whose path matched; so ask every route.
    """
    allowed = {
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.routes
        )
    }
    if not allowed or not isinstance(exc, StarletteHTTPException):  # pragma: no cover
        return await problems.handle_http_error(request, exc)
    headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(allowed))}
    return await problems.handle_http_error(
        request, StarletteHTTPException(exc.status_code, exc.detail, headers=headers)
    )
