"""Signing in to a live server as a fresh install asks (issue 5): password, then TOTP.

`egide serve` runs with the default settings, which require a second factor
of everyone: a user's first sign-in sets up an authenticator app, played
here by pyotp, and confirms it with its first code.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import pyotp


def sign_in(client: httpx.Client, username: str, password: str) -> str:
    """Open a session that gave its second factor (enrolling at the first sign-in);
    returns its CSRF token. The client's cookie jar keeps the renewed cookie."""
    signed = client.post("/api/v1/session", json={"username": username, "password": password})
    signed.raise_for_status()
    body = signed.json()
    csrf: str = body["csrf_token"]
    if body["mfa_enrolment_required"]:
        begun = client.post("/api/v1/me/mfa/totp", headers={"X-CSRF-Token": csrf})
        begun.raise_for_status()
        secret = parse_qs(urlparse(begun.json()["uri"]).query)["secret"][0]
        confirmed = client.post(
            "/api/v1/me/mfa/totp/confirm",
            json={"code": pyotp.TOTP(secret).now()},
            headers={"X-CSRF-Token": csrf},
        )
        confirmed.raise_for_status()
        csrf = confirmed.json()["session"]["csrf_token"]
    return csrf
