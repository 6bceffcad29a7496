"""SsoService and the provider client, below the web door (tests/web/test_sso.py runs
the whole flow)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.core.db.models.sso import SsoLoginState
from egide.services.registry import Services
from egide.services.sso.errors import InvalidReturnTo, SsoNotConfigured, SsoProviderUnavailable
from egide.services.sso.provider import OpenIdProvider, safe_token
from egide.services.sso.service import SsoConfig, SsoService, check_return_to
from tests.sso_provider import CLIENT_ID, CLIENT_SECRET, OpenIdProviderForTests, running_provider


@pytest.fixture
def provider(clock: ManualClock) -> Iterator[OpenIdProviderForTests]:
    with running_provider(lambda: clock.now().timestamp()) as running:
        yield running


def _config(settings: Settings, provider: OpenIdProviderForTests, **extra: object) -> SsoConfig:
    config = SsoConfig.from_settings(
        settings.with_overrides(
            oidc_discovery_url=f"{provider.base_url}/.well-known/openid-configuration",
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
            **extra,
        )
    )
    assert config is not None
    return config


@pytest.mark.parametrize("path", [None, "", "/", "/spaces/cardio?x=1#top", "/a/b%2F"])
def test_local_paths_are_accepted(path: str | None) -> None:
    assert check_return_to(path) == (path or "/")


@pytest.mark.parametrize(
    "path",
    [
        "//evil.example",
        "///evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\\evil.example",
        "/a b",
        "/a\tb",
        "/" + "a" * 500,
    ],
)
def test_other_places_are_refused(path: str) -> None:
    with pytest.raises(InvalidReturnTo):
        check_return_to(path)


def test_settings(settings: Settings) -> None:
    assert SsoConfig.from_settings(settings) is None
    config = SsoConfig.from_settings(
        settings.with_overrides(
            oidc_discovery_url="https://idp.example/.well-known/openid-configuration",
            oidc_client_id="egide",
            oidc_scopes="scope_all",
            oidc_acr_values="eidas1",
            oidc_mfa_acr="eidas1 eidas2",
            public_url="https://egide.example/",
        )
    )
    assert config is not None
    assert config.scopes == "openid scope_all"
    assert config.acr_values == ("eidas1",)
    assert config.mfa_acr == frozenset({"eidas1", "eidas2"})
    assert config.redirect_uri == "https://egide.example/api/v1/sso/callback"
    secret = settings.with_overrides(oidc_client_secret="s3cr3t-value")
    assert "s3cr3t-value" not in repr(secret)


def test_not_configured(svc: Services) -> None:
    assert svc.sso.info().enabled is False
    with pytest.raises(SsoNotConfigured):
        svc.sso.begin("/")
    with pytest.raises(SsoNotConfigured):
        svc.sso.complete(state="x", code="y", browser_state="x")


def test_the_discovered_issuer_must_be_the_one_asked(
    provider: OpenIdProviderForTests,
) -> None:
    # Same server, reached under another name: its document names 127.0.0.1.
    other_name = provider.base_url.replace("127.0.0.1", "localhost")
    client = OpenIdProvider(f"{other_name}/.well-known/openid-configuration", CLIENT_ID, None)
    with pytest.raises(SsoProviderUnavailable):
        client.metadata()


def test_a_provider_without_client_secret_authentication_is_refused(
    provider: OpenIdProviderForTests,
) -> None:
    provider.client.auth_method = "private_key_jwt"
    client = OpenIdProvider(
        f"{provider.base_url}/.well-known/openid-configuration",
        CLIENT_ID,
        Settings(oidc_client_secret=CLIENT_SECRET).oidc_client_secret,
    )
    with pytest.raises(SsoProviderUnavailable):
        client.metadata()


def test_begin_forgets_expired_requests(
    svc: Services, settings: Settings, clock: ManualClock, provider: OpenIdProviderForTests
) -> None:
    sso = SsoService(
        svc.db,
        svc.accounts,
        svc.sessions,
        _config(settings, provider),
        clock=clock,
        audit=svc.audit.recorder,
    )
    sso.begin("/one")
    clock.advance(minutes=11)
    sso.begin("/two")
    with svc.db.read() as session:
        rows = session.scalars(select(SsoLoginState)).all()
    assert [r.return_to for r in rows] == ["/two"]
    assert rows[0].expires_at - rows[0].created_at == dt.timedelta(minutes=10)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("access_denied", "access_denied"),
        ("<script>", "script"),
        ("é" * 3, "error"),
        ("a" * 99, "a" * 64),
    ],
)
def test_provider_error_codes_are_reduced_to_safe_tokens(raw: str, safe: str) -> None:
    assert safe_token(raw) == safe
