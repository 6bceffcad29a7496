"""A real OpenID provider on 127.0.0.1 for the single sign-on tests.

Built from Authlib's own server components (Flask integration): the
authorization code grant with PKCE (`CodeChallenge`, S256 required) and
OpenID Connect (`OpenIDCode`, nonce required), client authentication by
client_secret_basic or client_secret_post, ID tokens signed RS256 with a
JWK published at `/jwks`, a UserInfo endpoint. It speaks real HTTP and real
JOSE: it is Égide's peer, not a mock of Égide's client.

A test chooses who is signed in at the provider (`provider.user`: the
authorization endpoint consents at once, as for a user already signed in
there) and can make the provider misbehave on purpose (`provider.tweaks`):
another audience, issuer, nonce or lifetime in the ID token, a signature by
a key it does not publish, an `error=access_denied` answer.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import flask
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import WSGIRequestHandler, make_server

CLIENT_ID = "egide-test"
CLIENT_SECRET = "client secret: not a real one"


@dataclass
class ProviderUser:
    sub: str
    #: Claims of the ID token (and of UserInfo), besides the protocol ones.
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tweaks:
    """Ways to misbehave, for the tests of what Égide must refuse."""

    #: Claims of the next ID tokens replaced (None: removed), e.g. {"aud": "other"}.
    claims: dict[str, Any] = field(default_factory=dict)
    #: Sign with a key that /jwks does not publish (under the published kid, or this one).
    foreign_key: bool = False
    foreign_kid: str | None = None
    #: The authorization endpoint answers error=access_denied.
    deny: bool = False


@dataclass
class _Client:
    client_id: str
    client_secret: str
    auth_method: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri.endswith("/api/v1/sso/callback")

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:  # noqa: ARG002
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: ProviderUser
    nonce: str | None
    acr: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str] | None:
        return None


class OpenIdProviderForTests:
    def __init__(self, now: Callable[[], float], *, auth_method: str) -> None:
        #: The provider's clock: the tests' clock, so tokens are fresh in their world.
        self.now = now
        self.client = _Client(CLIENT_ID, CLIENT_SECRET, auth_method)
        self.user = ProviderUser("sub-0001", {"preferred_username": "alice"})
        #: The acr the next log-ins assert (None: none).
        self.acr: str | None = None
        #: Claims only UserInfo gives, not the ID token.
        self.userinfo_only: set[str] = set()
        self.tweaks = Tweaks()
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self._foreign = RSAKey.generate_key(2048)
        self.codes: dict[str, _Code] = {}
        self.access_tokens: dict[str, ProviderUser] = {}
        #: Query of the last authorization request, as received.
        self.last_authorization: dict[str, str] = {}
        self.jwks_fetches = 0
        self.base_url = ""
        self.app = self._build()

    def rotate_key(self) -> None:
        """A new signing key, the only one /jwks publishes from now on."""
        self.key = RSAKey.generate_key(2048, parameters={"kid": f"k{time.time_ns()}"})

    # The ID token, with the tweaks ----------------------------------------------

    def id_token(self, code: _Code, access_token: str | None) -> str:
        now = int(self.now())
        claims: dict[str, Any] = {
            "iss": self.base_url,
            "sub": code.user.sub,
            "aud": self.client.client_id,
            "iat": now,
            "exp": now + 300,
            "auth_time": code.auth_time,
        }
        if code.nonce is not None:
            claims["nonce"] = code.nonce
        if code.acr is not None:
            claims["acr"] = code.acr
        claims.update({k: v for k, v in code.user.claims.items() if k not in self.userinfo_only})
        for name, value in self.tweaks.claims.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self.key
        kid = self.key.kid
        if self.tweaks.foreign_key:
            key = self._foreign
            kid = self.tweaks.foreign_kid or kid
        del access_token  # at_hash is optional in the code flow (Core 3.1.3.6)
        return jwt.encode({"alg": "RS256", "kid": kid}, claims, key)

    # The Flask application -----------------------------------------------------------

    def _build(self) -> flask.Flask:
        provider = self
        app = flask.Flask("test-openid-provider")

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

            def save_authorization_code(self, code: str, request: Any) -> None:
                data = request.payload.data
                provider.codes[code] = _Code(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=request.payload.redirect_uri,
                    scope=request.scope,
                    user=request.user,
                    nonce=data.get("nonce"),
                    acr=provider.acr,
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    auth_time=int(provider.now()),
                )

            def query_authorization_code(self, code: str, client: Any) -> _Code | None:
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: _Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: _Code) -> ProviderUser:
                return authorization_code.user

        class IdToken(OpenIDCode):  # type: ignore[misc]
            def exists_nonce(self, nonce: str, request: Any) -> bool:  # noqa: ARG002 - no replay store
                return False

            def generate_user_info(self, user: Any, scope: str) -> dict[str, Any]:  # noqa: ARG002
                return {}

            def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
                return provider.id_token(request.authorization_code, token.get("access_token"))

        def save_token(token: dict[str, Any], request: Any) -> None:
            provider.access_tokens[token["access_token"]] = request.user

        server = AuthorizationServer(
            app,
            query_client=lambda cid: provider.client if cid == provider.client.client_id else None,
            save_token=save_token,
        )
        server.register_grant(
            CodeGrant, [CodeChallenge(required=True), IdToken(require_nonce=True)]
        )

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            base = provider.base_url
            return flask.jsonify(
                issuer=base,
                authorization_endpoint=f"{base}/authorize",
                token_endpoint=f"{base}/token",
                jwks_uri=f"{base}/jwks",
                userinfo_endpoint=f"{base}/userinfo",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=[provider.client.auth_method],
                acr_values_supported=["eidas1", "eidas2"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            provider.jwks_fetches += 1
            return flask.jsonify(keys=[provider.key.as_dict(private=False)])

        @app.get("/authorize")
        def authorize() -> Any:
            provider.last_authorization = dict(flask.request.args)
            # Validates the request: client, redirect URI, PKCE challenge, nonce.
            grant = server.get_consent_grant(end_user=provider.user)
            user = None if provider.tweaks.deny else provider.user
            return server.create_authorization_response(grant=grant, grant_user=user)

        @app.post("/token")
        def token() -> Any:
            return server.create_token_response()

        @app.get("/userinfo")
        def userinfo() -> Any:
            scheme, _, value = flask.request.headers.get("Authorization", "").partition(" ")
            user = provider.access_tokens.get(value) if scheme == "Bearer" else None
            if user is None:
                return flask.jsonify(error="invalid_token"), 401
            return flask.jsonify(sub=user.sub, **user.claims)

        return app


class _QuietHandler(WSGIRequestHandler):
    """No request log: the provider's URLs carry codes and states, which the tests
    check appear in no log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def running_provider(
    now: Callable[[], float], *, auth_method: str = "client_secret_basic"
) -> Iterator[OpenIdProviderForTests]:
    """The provider, served on a free port of 127.0.0.1 until the block ends."""
    provider = OpenIdProviderForTests(now, auth_method=auth_method)
    server = make_server("127.0.0.1", 0, provider.app, threaded=True, request_handler=_QuietHandler)
    provider.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def sign_in_through_provider(svc: Any, clock: Any, *, username: str = "alice") -> None:
    """One whole sign-in of `username` (an existing account) through a provider started
    here, on services `svc` built without SSO: for the audit coverage scenarios."""
    from urllib.parse import parse_qs, urlparse

    import httpx

    from egide.services.sso.service import SsoConfig, SsoService

    with running_provider(lambda: clock.now().timestamp()) as provider:
        provider.user.claims = {"preferred_username": username}
        settings = svc.settings.with_overrides(
            public_url="http://testserver",
            oidc_discovery_url=f"{provider.base_url}/.well-known/openid-configuration",
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
        )
        sso = SsoService(
            svc.db,
            svc.accounts,
            svc.sessions,
            SsoConfig.from_settings(settings),
            clock=clock,
            audit=svc.audit.recorder,
        )
        start = sso.begin("/")
        back = httpx.get(start.url, follow_redirects=False).headers["location"]
        query = {k: v[0] for k, v in parse_qs(urlparse(back).query).items()}
        sso.complete(state=query["state"], code=query["code"], browser_state=start.state)
