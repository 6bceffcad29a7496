"""Security headers on every response of the web door (issue 6, ADR 0022).

The web interface is a single-page application served from this origin: a
strict Content-Security-Policy allows scripts, styles, fonts and connections
from the origin only, images also from `data:` (the QR code of the
authenticator set-up) and `blob:` (Uppy's thumbnails), and nothing inline:
Vite's build emits no inline script or style. Everything else the door
answers (the API, file contents, health and metrics) gets `default-src
'none'`: a document it serves may load nothing and run nothing, so even a
file shown in the browser (a preview) cannot act with the user's session.
Pure ASGI, so streamed downloads pass through unbuffered. These values
replace any the inner layers set.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

#: For every answer that is not a page of the interface.
API_CONTENT_SECURITY_POLICY = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"

#: Paths that are not pages of the interface.
_NOT_PAGES = ("/api/", "/healthz", "/readyz", "/metrics")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_PAGE_CSP = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())
_API_CSP = (b"content-security-policy", API_CONTENT_SECURITY_POLICY.encode())
_NAMES = frozenset(name for name, _ in SECURITY_HEADERS) | {b"content-security-policy"}


def is_page(path: str) -> bool:
    """Whether `path` is served by the web interface (its policy) or not (`default-src 'none'`)."""
    return not path.startswith(_NOT_PAGES)


class SecurityHeadersMiddleware:
    """Sets `SECURITY_HEADERS` and the path's Content-Security-Policy on every HTTP
    response, replacing earlier values."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = _PAGE_CSP if is_page(scope["path"]) else _API_CSP

        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in _NAMES
                ]
                headers.extend(SECURITY_HEADERS)
                headers.append(csp)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, secured_send)
