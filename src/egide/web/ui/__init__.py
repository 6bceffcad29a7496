"""The web interface: the single-page application built by Vite (frontend/).

`make run` and `make test` build it into `dist/` beside this file (not in git;
carried by the wheel as package data). The pages are a client of the REST
API and hold no business rule. This router serves `index.html` on `/` and on
every route of the application (the page's own router decides what to show)
and the hashed build files under `/assets/`, cached for a year: a new build
has new names. Without a build, the pages answer a plain 503 that says how
to make one, and the API works as before.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException

DIST = Path(__file__).resolve().parent / "dist"

# The application's routes (frontend/src/app.js); anything else stays a 404
# problem document, and nothing under /api, /healthz, /readyz or /metrics is
# touched.
APP_ROUTES = (
    "/",
    "/login",
    "/me",
    "/device",
    "/spaces",
    "/spaces/{rest:path}",
    "/trash/{rest:path}",
    "/members/{rest:path}",
    "/incidents",
    "/incidents/{rest:path}",
    "/notifications",
    "/admin",
    "/admin/{rest:path}",
    "/shared",
    # A share link's or a file request's recipient page, without an account (RECIPIENT_PAGE).
    "/links/{token}",
)

_MISSING = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Égide</title></head>
<body>
<h1>Interface web non construite / Web interface not built</h1>
<p>Les pages de l'interface n'ont pas été construites. Lancez <code>make run</code>
(ou <code>make frontend</code>) depuis le dépôt, puis rechargez cette page.
L'API (<code>/api/v1</code>) fonctionne.</p>
<p>The pages of the interface were not built. Run <code>make run</code>
(or <code>make frontend</code>) from the repository, then reload this page.
The API (<code>/api/v1</code>) works.</p>
</body></html>
"""


# Vite's file names: name-hash.ext, nothing that could climb out of assets/.
_ASSET_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$")


def _index(dist: Path) -> Response:
    index = dist / "index.html"
    if not index.is_file():
        return HTMLResponse(_MISSING, status_code=503, headers={"Cache-Control": "no-store"})
    # Always revalidated: it names the current build's assets.
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})


def install(app: FastAPI, dist: Path = DIST) -> None:
    """Serve the interface from `dist` on `app` (routes hidden from the OpenAPI document)."""
    router = APIRouter(include_in_schema=False)

    def index() -> Response:
        return _index(dist)

    def asset(name: str) -> Response:
        """A hashed build file: immutable, cached for a year (a new build has new names)."""
        file = dist / "assets" / name
        if not _ASSET_NAME.match(name) or not file.is_file():
            raise HTTPException(404)  # exactly as any other unknown path
        return FileResponse(file, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    for path in APP_ROUTES:
        router.add_api_route(path, index, methods=["GET", "HEAD"])
    router.add_api_route("/assets/{name}", asset, methods=["GET", "HEAD"])
    app.include_router(router)
