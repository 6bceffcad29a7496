"""Request ids, JSON access logs, Prometheus metrics and security headers.

One pure ASGI middleware (it sees streamed bodies without buffering them).
Log lines and metric labels name the route *template*
(`/api/v1/spaces/{space}/content/{path:path}`), never the requested path:
paths carry file names, which are personal data. No header, query string or
body is ever logged.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from egide.services.audit.context import Purpose, RequestContext, request_context
from egide.web.deps import PURPOSE_HEADER

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("egide.access")


class Metrics:
    """The server's metrics, in a registry of its own (one per application)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "egide_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "egide_http_request_duration_seconds",
            "HTTP request duration by method and route template",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.bytes_in = Counter(
            "egide_http_received_bytes", "Request body bytes received", registry=self.registry
        )
        self.bytes_out = Counter(
            "egide_http_sent_bytes", "Response body bytes sent", registry=self.registry
        )
        self.uploads = Gauge(
            "egide_uploads_in_progress", "File uploads being received now", registry=self.registry
        )


#: Longest user agent kept in an audit context; real ones are far shorter.
_USER_AGENT_MAX = 300


def _request_context(scope: Scope, request_id: str) -> RequestContext:
    headers = {bytes(name).lower(): bytes(value) for name, value in scope.get("headers", [])}
    client = scope.get("client")
    purpose = headers.get(PURPOSE_HEADER.lower().encode(), b"").decode("latin-1").strip()
    bearer = headers.get(b"authorization", b"").lower().startswith(b"bearer ")
    return RequestContext(
        client_address=client[0] if client else None,
        user_agent=headers.get(b"user-agent", b"").decode("latin-1")[:_USER_AGENT_MAX] or None,
        # Checked by the door's dependencies (a clear 400); an invalid one is not kept.
        purpose=Purpose(purpose) if purpose in set(Purpose) else None,
        request_id=request_id,
        channel="token" if bearer else "session",
    )


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(unmatched)"


def _is_upload(scope: Scope) -> bool:
    path = scope.get("path", "")
    return scope.get("method") in {"PUT", "PATCH", "POST"} and (
        "/content/" in path or path.startswith("/api/v1/uploads")
    )


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        counts = {"in": 0, "out": 0, "status": 500}
        upload = _is_upload(scope)
        if upload:
            self.metrics.uploads.inc()

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                counts["in"] += len(message.get("body", b""))
            return message

        async def decorated_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                counts["out"] += len(message.get("body", b""))
            await send(message)

        try:
            # What the audit log seals beside the events of this request.
            with request_context(_request_context(scope, request_id)):
                await self.app(scope, counting_receive, decorated_send)
        finally:
            if upload:
                self.metrics.uploads.dec()
            self._record(scope, request_id, counts, time.perf_counter() - started)

    @staticmethod
    def _request_id(scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                candidate = bytes(value).decode("latin-1")
                if _REQUEST_ID.match(candidate):
                    return candidate
        return secrets.token_hex(8)

    def _record(
        self, scope: Scope, request_id: str, counts: dict[str, int], seconds: float
    ) -> None:
        method, route, status = scope.get("method", "?"), _route_of(scope), counts["status"]
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(seconds)
        self.metrics.bytes_in.inc(counts["in"])
        self.metrics.bytes_out.inc(counts["out"])
        log.info(
            "request",
            extra={
                "egide": {
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "bytes_in": counts["in"],
                    "bytes_out": counts["out"],
                }
            },
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "egide", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: messages and tracebacks may quote data.
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False, sort_keys=True)


def configure_logging(level: int = logging.INFO) -> None:
    formatter = JsonFormatter()
    formatter.converter = time.gmtime  # the "Z" in the timestamps says UTC
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger("egide")
    root.handlers = [handler]
    root.setLevel(level)
    root.propagate = False
