"""OpenID Connect single sign-on end to end (issue 5, item 4), against a real provider.

The provider (tests/sso_provider.py) is served on 127.0.0.1 by each test;
the "browser" is httpx for the provider's side and the TestClient for
Égide's, each following the other's 302s by hand so every hop is checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import httpx2
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.core.db.models import AuditEvent
from egide.core.db.models.sso import ExternalIdentity, SsoLoginState
from egide.services.registry import Services
from tests.sso_provider import CLIENT_ID, CLIENT_SECRET, OpenIdProviderForTests, running_provider
from tests.vault_fixtures import PASSWORD, SYSTEM

RETURN_TO = "/spaces?tab=recent"


@pytest.fixture
def auth_method() -> str:
    return "client_secret_basic"


@pytest.fixture
def provider(clock: ManualClock, auth_method: str) -> Iterator[OpenIdProviderForTests]:
    with running_provider(lambda: clock.now().timestamp(), auth_method=auth_method) as running:
        yield running


@pytest.fixture
def sso_overrides() -> dict[str, Any]:
    """Settings a test changes (parametrize `sso_overrides` to set them)."""
    return {}


@pytest.fixture
def vault_settings(
    settings: Settings, provider: OpenIdProviderForTests, sso_overrides: dict[str, Any]
) -> Settings:
    sso = {
        "public_url": "http://testserver",
        "oidc_discovery_url": f"{provider.base_url}/.well-known/openid-configuration",
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_display_name": "Pro Santé Connect",
    }
    return settings.with_overrides(segment_size=4096, **{**sso, **sso_overrides})


@pytest.fixture
def alice(svc: Services) -> str:
    svc.accounts.create_user(SYSTEM, "alice", password=PASSWORD)
    return "alice"


def sign_in(client: TestClient, return_to: str = RETURN_TO) -> httpx2.Response:
    """The browser's round trip: Égide → provider → Égide's callback; its last answer."""
    started = client.get(
        "/api/v1/sso/login", params={"return_to": return_to}, follow_redirects=False
    )
    assert started.status_code == 302, started.text
    return client.get(to_callback(started), follow_redirects=False)


def to_callback(started: httpx2.Response) -> str:
    """Follow Égide's 302 to the provider; the callback URL the provider sends back to."""
    at_provider = httpx.get(started.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 302, at_provider.text
    back: str = at_provider.headers["location"]
    assert back.startswith("http://testserver/api/v1/sso/callback?")
    return back


def problem(response: httpx2.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == f"urn:egide:problem:{code}", body
    detail: str = body["detail"]
    return detail


def events(svc: Services, action: str) -> list[AuditEvent]:
    with svc.db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action)
                .order_by(AuditEvent.created_at, AuditEvent.id)
            )
        )


def denied_login(svc: Services) -> dict[str, Any]:
    """The details of the one denied log-in recorded."""
    denied = [e for e in events(svc, "session.login") if e.outcome == "denied"]
    assert len(denied) == 1, [e.details for e in denied]
    details: dict[str, Any] = json.loads(denied[0].details)
    return details


# Configuration ----------------------------------------------------------------------


@pytest.mark.parametrize("sso_overrides", [{"oidc_discovery_url": None}])
def test_sso_is_off_unless_configured(app_client: TestClient) -> None:
    assert app_client.get("/api/v1/sso").json() == {
        "enabled": False,
        "display_name": None,
        "login_url": None,
    }
    problem(app_client.get("/api/v1/sso/login"), 404, "sso-not-configured")


def test_sso_is_announced_with_its_label(app_client: TestClient) -> None:
    assert app_client.get("/api/v1/sso").json() == {
        "enabled": True,
        "display_name": "Pro Santé Connect",
        "login_url": "/api/v1/sso/login",
    }


# The flow that works ------------------------------------------------------------------------


def test_sign_in_end_to_end(
    app_client: TestClient, svc: Services, provider: OpenIdProviderForTests, alice: str
) -> None:
    started = app_client.get(
        "/api/v1/sso/login", params={"return_to": RETURN_TO}, follow_redirects=False
    )
    assert started.status_code == 302
    location = urlparse(started.headers["location"])
    assert location.netloc == urlparse(provider.base_url).netloc
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == "http://testserver/api/v1/sso/callback"
    assert query["scope"] == "openid profile email"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 43  # 256 bits, base64url
    assert len(query["nonce"]) >= 43
    assert "acr_values" not in query
    # The state is stored hashed only, with a 10-minute life.
    with svc.db.read() as session:
        row = session.scalars(select(SsoLoginState)).one()
    assert row.state_hash != query["state"]
    assert query["state"] not in (row.state_hash, row.nonce, row.code_verifier)
    assert (row.expires_at - row.created_at).total_seconds() == 600
    assert started.cookies.get("egide_sso_state") == query["state"]

    done = app_client.get(to_callback(started), follow_redirects=False)
    assert done.status_code == 302, done.text
    assert done.headers["location"] == RETURN_TO
    assert done.headers["cache-control"] == "no-store"
    set_cookies = done.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookies if c.startswith("egide_session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=strict" in session_cookie
    csrf_cookie = next(c for c in set_cookies if c.startswith("egide_csrf="))
    assert "HttpOnly" not in csrf_cookie  # the page's script reads it
    csrf = app_client.cookies["egide_csrf"]

    me = app_client.get("/api/v1/me")
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "alice"
    assert me.json()["via"] == "session"
    # The CSRF token from the cookie is the session's.
    assert (
        app_client.delete("/api/v1/session", headers={"X-CSRF-Token": "wrong"}).status_code == 403
    )
    assert app_client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204

    with svc.db.read() as session:
        assert session.scalars(select(SsoLoginState)).all() == []  # single use
        identity = session.scalars(select(ExternalIdentity)).one()
    assert (identity.issuer, identity.subject) == (provider.base_url, "sub-0001")
    login = [e for e in events(svc, "session.login") if e.outcome == "allowed"]
    assert [json.loads(e.details) for e in login] == [{"method": "oidc", "acr": ""}]
    assert len(events(svc, "sso.link")) == 1


def test_the_link_wins_over_the_claim_at_later_sign_ins(
    app_client: TestClient, svc: Services, provider: OpenIdProviderForTests, alice: str
) -> None:
    assert sign_in(app_client).status_code == 302
    svc.accounts.create_user(SYSTEM, "mallory", password=PASSWORD)
    # The provider now calls the same person (same sub) by another name.
    provider.user.claims["preferred_username"] = "mallory"
    assert sign_in(app_client).status_code == 302
    assert app_client.get("/api/v1/me").json()["username"] == "alice"
    assert len(events(svc, "sso.link")) == 1


def test_another_identity_cannot_take_a_linked_account(
    app_client: TestClient, svc: Services, provider: OpenIdProviderForTests, alice: str
) -> None:
    assert sign_in(app_client).status_code == 302
    provider.user.sub = "sub-9999"  # someone else at the provider, now named alice
    problem(sign_in(app_client), 403, "sso-account-linked")
    assert denied_login(svc)["reason"] == "sso-account-linked"


@pytest.mark.parametrize("auth_method", ["client_secret_post"])
def test_client_secret_post_when_the_provider_asks_for_it(
    app_client: TestClient, alice: str
) -> None:
    assert sign_in(app_client).status_code == 302
    assert app_client.get("/api/v1/me").json()["username"] == "alice"


@pytest.mark.parametrize("auth_method", ["none"])
@pytest.mark.parametrize("sso_overrides", [{"oidc_client_secret": None}])
def test_a_public_client_relies_on_pkce_alone(app_client: TestClient, alice: str) -> None:
    assert sign_in(app_client).status_code == 302
    assert app_client.get("/api/v1/me").json()["username"] == "alice"


def test_keys_are_fetched_again_once_when_the_provider_rotates_them(
    app_client: TestClient, provider: OpenIdProviderForTests, alice: str
) -> None:
    assert sign_in(app_client).status_code == 302
    assert provider.jwks_fetches == 1
    assert sign_in(app_client).status_code == 302
    assert provider.jwks_fetches == 1  # cached
    provider.rotate_key()
    assert sign_in(app_client).status_code == 302
    assert provider.jwks_fetches == 2


@pytest.mark.parametrize("sso_overrides", [{"oidc_user_claim": "email"}])
def test_matching_by_email_needs_a_verified_address(
    app_client: TestClient, svc: Services, provider: OpenIdProviderForTests
) -> None:
    svc.accounts.create_user(SYSTEM, "alice@chu.example", password=PASSWORD)
    provider.user.claims = {"email": "Alice@chu.example", "email_verified": False}
    problem(sign_in(app_client), 403, "sso-claim-unusable")
    provider.user.claims["email_verified"] = True
    assert sign_in(app_client).status_code == 302
    assert app_client.get("/api/v1/me").json()["username"] == "alice@chu.example"


def test_claims_missing_from_the_id_token_come_from_userinfo(
    app_client: TestClient, provider: OpenIdProviderForTests, alice: str
) -> None:
    provider.userinfo_only = {"preferred_username"}
    assert sign_in(app_client).status_code == 302
    assert app_client.get("/api/v1/me").json()["username"] == "alice"


@pytest.mark.parametrize(
    "sso_overrides",
    [
        {
            "oidc_create_users": True,
            "oidc_group_claim": "groups",
            "oidc_group_map": {"/cardio": "cardiologues", "/dim": "dim"},
        }
    ],
)
def test_users_created_and_groups_followed_when_allowed(
    app_client: TestClient, svc: Services, provider: OpenIdProviderForTests
) -> None:
    svc.accounts.create_group(SYSTEM, "cardiologues")
    svc.accounts.create_group(SYSTEM, "dim")
    svc.accounts.create_group(SYSTEM, "autres")
    provider.user.claims = {
        "preferred_username": "Jean.Dupont",
        "name": "Jean Dupont",
        "email": "jean.dupont@chu.example",
        "email_verified": True,
        "groups": ["/cardio", "/unmapped"],
    }
    assert sign_in(app_client).status_code == 302
    user = svc.accounts.get_user(SYSTEM, "jean.dupont")
    assert user.display_name == "Jean Dupont"
    assert user.email == "jean.dupont@chu.example"
    svc.accounts.add_member(SYSTEM, "autres", "jean.dupont")  # not mapped: left alone

    def groups() -> set[str]:
        return {
            g.name
            for g in svc.accounts.list_groups(SYSTEM)
            if any(m.username == "jean.dupont" for m in svc.accounts.list_members(SYSTEM, g.name))
        }

    assert groups() == {"cardiologues", "autres"}
    provider.user.claims["groups"] = ["/dim"]
    assert sign_in(app_client).status_code == 302
    assert groups() == {"dim", "autres"}
    # A password cannot sign this account in: it has none.
    assert (
        app_client.post(
            "/api/v1/session", json={"username": "jean.dupont", "password": PASSWORD}
        ).status_code
        == 401
    )
    assert len(events(svc, "user.create")) == 1


# acr and the MFA policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sso_overrides",
    [{"mfa_required": "everyone", "oidc_acr_values": "eidas1", "oidc_mfa_acr": "eidas1"}],
)
def test_an_acr_in_oidc_mfa_acr_is_the_second_factor(
    app_client: TestClient, svc: Services, provider: OpenIdProviderForTests, alice: str
) -> None:
    provider.acr = "eidas1"
    assert sign_in(app_client).status_code == 302
    assert provider.last_authorization["acr_values"] == "eidas1"
    assert app_client.get("/api/v1/spaces").status_code == 200  # no second factor asked
    # ... and it may create API tokens, as a session verified by TOTP may (issue 5, item 3).
    created = app_client.post(
        "/api/v1/tokens",
        json={"name": "cli", "scopes": ["files:read"]},
        headers={"X-CSRF-Token": app_client.cookies["egide_csrf"]},
    )
    assert created.status_code == 201, created.text
    session = svc.sessions.list_sessions(svc.accounts.principal_for_username("alice"))[0]
    assert (session.mfa_method, session.acr) == ("oidc", "eidas1")
    login = [e for e in events(svc, "session.login") if e.outcome == "allowed"]
    assert json.loads(login[0].details) == {"method": "oidc", "acr": "eidas1"}


@pytest.mark.parametrize("sso_overrides", [{"mfa_required": "everyone", "oidc_mfa_acr": "eidas1"}])
def test_another_acr_asks_for_the_local_second_factor(
    app_client: TestClient,
    svc: Services,
    provider: OpenIdProviderForTests,
    clock: ManualClock,
    alice: str,
) -> None:
    alice_p = svc.accounts.principal_for_username("alice")
    uri = svc.mfa.begin_totp(alice_p).uri
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    totp = pyotp.TOTP(secret)
    svc.mfa.confirm_totp(alice_p, totp.at(clock.now()))
    provider.acr = "eidas2"
    assert sign_in(app_client).status_code == 302
    problem(app_client.get("/api/v1/spaces"), 403, "mfa-required")
    assert app_client.get("/api/v1/me").status_code == 200
    clock.advance(seconds=30)
    verified = app_client.post(
        "/api/v1/session/mfa",
        json={"code": totp.at(clock.now())},
        headers={"X-CSRF-Token": app_client.cookies["egide_csrf"]},
    )
    assert verified.status_code == 200, verified.text
    assert app_client.get("/api/v1/spaces").status_code == 200
    renewed = [e for e in events(svc, "session.login") if e.outcome == "allowed"][-1]
    assert json.loads(renewed.details) == {"method": "oidc+totp", "acr": "eidas2"}


# Bad input: each refused with a clear message and an audit entry ---------------------------------


def test_a_replayed_answer_is_refused(app_client: TestClient, svc: Services, alice: str) -> None:
    started = app_client.get("/api/v1/sso/login", follow_redirects=False)
    back = to_callback(started)
    assert app_client.get(back, follow_redirects=False).status_code == 302
    detail = problem(app_client.get(back, follow_redirects=False), 401, "sso-state-invalid")
    assert "Start signing in again" in detail
    assert denied_login(svc) == {"method": "oidc", "reason": "sso-state-invalid"}


def test_a_tampered_state_is_refused(app_client: TestClient, svc: Services, alice: str) -> None:
    back = urlparse(to_callback(app_client.get("/api/v1/sso/login", follow_redirects=False)))
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    query["state"] = query["state"][:-2] + ("AA" if not query["state"].endswith("AA") else "BB")
    app_client.cookies.set("egide_sso_state", query["state"], path="/api/v1/sso")
    tampered = f"/api/v1/sso/callback?{urlencode(query)}"
    problem(app_client.get(tampered, follow_redirects=False), 401, "sso-state-invalid")
    assert denied_login(svc)["reason"] == "sso-state-invalid"


def test_an_unknown_state_is_refused(app_client: TestClient, svc: Services) -> None:
    app_client.cookies.set("egide_sso_state", "x" * 43, path="/api/v1/sso")
    unknown = app_client.get(
        "/api/v1/sso/callback", params={"state": "x" * 43, "code": "c"}, follow_redirects=False
    )
    problem(unknown, 401, "sso-state-invalid")
    assert denied_login(svc)["reason"] == "sso-state-invalid"


def test_an_answer_brought_to_another_browser_is_refused(
    app_client: TestClient, svc: Services, alice: str
) -> None:
    back = to_callback(app_client.get("/api/v1/sso/login", follow_redirects=False))
    app_client.cookies.clear()  # the victim's browser never began this sign-in (login CSRF)
    problem(app_client.get(back, follow_redirects=False), 401, "sso-state-invalid")
    assert denied_login(svc)["reason"] == "sso-state-invalid"
    assert "egide_session" not in app_client.cookies


def test_an_expired_state_is_refused(
    app_client: TestClient, svc: Services, clock: ManualClock, alice: str
) -> None:
    back = to_callback(app_client.get("/api/v1/sso/login", follow_redirects=False))
    clock.advance(minutes=10, seconds=1)
    problem(app_client.get(back, follow_redirects=False), 401, "sso-state-invalid")
    assert denied_login(svc)["reason"] == "sso-state-invalid"


@pytest.mark.parametrize(
    ("tweak", "reason"),
    [
        ({"claims": {"aud": "another-client"}}, "wrong audience"),
        ({"claims": {"aud": [CLIENT_ID, "another-client"]}}, "missing claim azp"),
        ({"claims": {"aud": [CLIENT_ID, "other"], "azp": "other"}}, "wrong audience"),
        ({"claims": {"iss": "https://evil.example"}}, "wrong issuer"),
        ({"claims": {"nonce": "not-the-nonce"}}, "wrong nonce"),
        ({"claims": {"nonce": None}}, "missing claim nonce"),
        ({"claims": {"exp": "past"}}, "expired"),
        ({"claims": {"iat": "future"}}, "issued in the future"),
        ({"foreign_key": True}, "bad signature"),
        ({"foreign_key": True, "foreign_kid": "not-published"}, "unknown signing key"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_an_id_token_that_fails_a_check_is_refused(
    app_client: TestClient,
    svc: Services,
    provider: OpenIdProviderForTests,
    clock: ManualClock,
    alice: str,
    *,
    tweak: dict[str, Any],
    reason: str,
) -> None:
    now = int(clock.now().timestamp())
    times = {"past": now - 3600, "future": now + 3600}
    claims = {
        k: times.get(v, v) if isinstance(v, str) else v for k, v in tweak.get("claims", {}).items()
    }
    provider.tweaks.claims = claims
    provider.tweaks.foreign_key = tweak.get("foreign_key", False)
    provider.tweaks.foreign_kid = tweak.get("foreign_kid")
    detail = problem(sign_in(app_client), 401, "sso-token-invalid")
    assert f"({reason})" in detail
    assert denied_login(svc) == {"method": "oidc", "reason": "sso-token-invalid", "detail": reason}
    assert "egide_session" not in app_client.cookies
    assert events(svc, "sso.link") == []


@pytest.mark.parametrize("sso_overrides", [{"oidc_acr_values": "eidas1"}])
@pytest.mark.parametrize("asserted", [None, "eidas2"])
def test_an_acr_other_than_the_one_asked_is_refused(
    app_client: TestClient,
    svc: Services,
    provider: OpenIdProviderForTests,
    alice: str,
    asserted: str | None,
) -> None:
    provider.acr = "eidas1"
    assert sign_in(app_client).status_code == 302  # linked
    provider.acr = asserted
    detail = problem(sign_in(app_client), 403, "sso-acr-insufficient")
    assert "(eidas1)" in detail
    assert denied_login(svc) == {"method": "oidc", "reason": "sso-acr-insufficient"}
    # The refusal names the account the identity is linked to.
    refused = next(e for e in events(svc, "session.login") if e.outcome == "denied")
    assert refused.actor_id == svc.accounts.principal_for_username("alice").user_id


def test_the_code_is_bound_to_the_pkce_verifier(
    app_client: TestClient, svc: Services, alice: str
) -> None:
    """The provider checks the verifier against the challenge (RFC 7636): a code
    redeemed with another verifier is refused, so a stolen code alone is useless."""
    started = app_client.get("/api/v1/sso/login", follow_redirects=False)
    back = to_callback(started)
    with svc.db.write() as session:
        session.execute(update(SsoLoginState).values(code_verifier="v" * 43))
    detail = problem(app_client.get(back, follow_redirects=False), 401, "sso-token-invalid")
    assert "(code refused: invalid_grant)" in detail
    assert denied_login(svc)["detail"] == "code refused: invalid_grant"


def test_the_providers_refusal_is_told(
    app_client: TestClient, svc: Services, provider: OpenIdProviderForTests, alice: str
) -> None:
    provider.tweaks.deny = True
    started = app_client.get("/api/v1/sso/login", follow_redirects=False)
    back = to_callback(started)
    assert "error=access_denied" in back
    detail = problem(app_client.get(back, follow_redirects=False), 401, "sso-refused")
    assert "(access_denied)" in detail
    assert denied_login(svc) == {
        "method": "oidc",
        "reason": "sso-refused",
        "detail": "access_denied",
    }


def test_an_unknown_user_is_refused_when_creation_is_off(
    app_client: TestClient, svc: Services, provider: OpenIdProviderForTests
) -> None:
    provider.user.claims = {"preferred_username": "nobody"}
    detail = problem(sign_in(app_client), 403, "sso-unknown-user")
    assert "Ask an administrator to create your account" in detail
    assert denied_login(svc) == {"method": "oidc", "reason": "sso-unknown-user"}
    with svc.db.read() as session:
        assert session.scalars(select(ExternalIdentity)).all() == []


def test_a_disabled_user_is_refused(app_client: TestClient, svc: Services, alice: str) -> None:
    assert sign_in(app_client).status_code == 302
    svc.accounts.disable_user(SYSTEM, "alice")
    app_client.cookies.clear()
    problem(sign_in(app_client), 401, "account-disabled")
    assert denied_login(svc)["reason"] == "account-disabled"


@pytest.mark.parametrize(
    "return_to",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "relative", "/a\nb"],
)
def test_return_to_must_be_a_local_path(app_client: TestClient, return_to: str) -> None:
    refused = app_client.get(
        "/api/v1/sso/login", params={"return_to": return_to}, follow_redirects=False
    )
    problem(refused, 400, "sso-invalid-return-to")


def test_an_unreachable_provider_is_told(
    app_client: TestClient, svc: Services, provider: OpenIdProviderForTests
) -> None:
    assert svc.sso.provider is not None
    svc.sso.provider.discovery_url = "http://127.0.0.1:9/.well-known/openid-configuration"
    problem(
        app_client.get("/api/v1/sso/login", follow_redirects=False), 503, "sso-provider-unavailable"
    )


def test_messages_in_french(app_client: TestClient, svc: Services, alice: str) -> None:
    app_client.cookies.set("egide_sso_state", "y" * 43, path="/api/v1/sso")
    refused = app_client.get(
        "/api/v1/sso/callback",
        params={"state": "y" * 43, "code": "c"},
        headers={"Accept-Language": "fr"},
        follow_redirects=False,
    )
    detail = problem(refused, 401, "sso-state-invalid")
    assert "Recommencez" in detail or "recommencez" in detail


def test_no_token_code_or_secret_in_audit_or_logs(
    app_client: TestClient,
    svc: Services,
    provider: OpenIdProviderForTests,
    alice: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    started = app_client.get("/api/v1/sso/login", follow_redirects=False)
    back = to_callback(started)
    query = {k: v[0] for k, v in parse_qs(urlparse(back).query).items()}
    assert app_client.get(back, follow_redirects=False).status_code == 302
    provider.tweaks.claims = {"aud": "other"}
    assert sign_in(app_client).status_code == 401
    with svc.db.read() as session:
        audit = " ".join(e.target + e.details for e in session.scalars(select(AuditEvent)))
    # Égide's own log lines (the test's browser and the provider log their URLs).
    ours = "\n".join(
        f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name.startswith("egide")
    )
    assert ours
    assert "the token endpoint" not in ours  # the refusal was the ID token's, not logged
    for secret in (query["code"], query["state"], CLIENT_SECRET, "alice"):
        assert secret not in audit
        assert secret not in ours
