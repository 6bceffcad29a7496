"""One OpenID provider, as a relying party sees it (OpenID Connect Core 1.0, Discovery 1.0).

What this module does, and nothing else: read the discovery document, build
the authorization request (code flow with PKCE S256, RFC 7636), redeem the
code at the token endpoint with the client authentication the provider
supports, and verify the ID token: signature against the provider's JWKS,
then iss, aud (and azp), exp, iat, nonce (Core 3.1.3.7). Authlib supplies the
protocol pieces (PKCE challenge, authorization URI, ID token claim rules) and
its JOSE layer, joserfc, the signatures; the HTTP calls go through httpx.

Discovery and keys are cached in memory: a cache, not state (any process can
fetch them again). An ID token signed with a key id the cache does not hold
makes one fresh fetch of the JWKS (the provider rotated its keys); the token
reaches us straight from the token endpoint, never from the browser, so no
one else can make us fetch at will.

Nothing here logs a token, a code, a secret or a claim value.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
    MissingKeyError,
)
from joserfc.jwk import KeySet
from pydantic import SecretStr

from egide.services.sso.errors import SsoProviderUnavailable, SsoTokenInvalid

log = logging.getLogger(__name__)

#: Seconds of clock skew tolerated on exp, iat, nbf.
LEEWAY_SECONDS = 60
#: Discovery and JWKS are fetched again after this long.
CACHE_SECONDS = 3600
_TIMEOUT = httpx.Timeout(10.0)
#: Signature algorithms an ID token may use: asymmetric only (no "none", no HS*
#: keyed with the client secret, which Égide would then have to guard as a key).
_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
#: Readable names of the claims whose check failed, for the error message and the audit entry.
_CLAIM_REASONS = {
    "iss": "wrong issuer",
    "aud": "wrong audience",
    "azp": "wrong audience",
    "nonce": "wrong nonce",
    "iat": "issued in the future",
    "nbf": "not yet valid",
    "exp": "expired",
    "sub": "no subject",
}


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    #: "client_secret_basic", "client_secret_post", or "none" (public client).
    token_auth_method: str
    algorithms: tuple[str, ...]


@dataclass(frozen=True)
class TokenResponse:
    id_token: str
    access_token: str | None


def _unavailable(what: str) -> SsoProviderUnavailable:
    # The operator's log says which step failed; the user's message does not.
    log.warning("OpenID provider: %s", what)
    return SsoProviderUnavailable()


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise _unavailable(f"{what} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise _unavailable(f"{what} answered no JSON") from None
    if not isinstance(body, dict):
        raise _unavailable(f"{what} answered no JSON object")
    return body


class OpenIdProvider:
    """The configured provider: `discovery_url` names it (Discovery 1.0 section 4)."""

    def __init__(
        self,
        discovery_url: str,
        client_id: str,
        client_secret: SecretStr | None,
        *,
        timeout: httpx.Timeout = _TIMEOUT,
    ) -> None:
        self.discovery_url = discovery_url
        self.client_id = client_id
        self._secret = client_secret
        self._timeout = timeout
        self._lock = threading.Lock()
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._jwks: tuple[float, KeySet] | None = None

    def __repr__(self) -> str:
        return f"OpenIdProvider({self.discovery_url!r}, client_id={self.client_id!r})"

    def _get(self, url: str, what: str) -> httpx.Response:
        try:
            with httpx.Client(timeout=self._timeout, follow_redirects=False) as client:
                return client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise _unavailable(f"{what} unreachable ({type(exc).__name__})") from exc

    # Discovery --------------------------------------------------------------

    def metadata(self) -> ProviderMetadata:
        with self._lock:
            cached = self._metadata
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        doc = _json(self._get(self.discovery_url, "discovery"), "discovery")
        meta = self._parse_metadata(doc)
        with self._lock:
            self._metadata = (time.monotonic(), meta)
        return meta

    def _parse_metadata(self, doc: Mapping[str, Any]) -> ProviderMetadata:
        def url(name: str, *, required: bool = True) -> str | None:
            value = doc.get(name)
            if isinstance(value, str) and value.startswith(("https://", "http://")):
                return value
            if required:
                raise _unavailable(f"discovery document lacks {name}")
            return None

        issuer = url("issuer") or ""
        # Discovery 1.0 section 4.3: the issuer must be the one the document was asked
        # of, else a document could claim another provider's identity.
        expected = issuer.rstrip("/") + "/.well-known/openid-configuration"
        if expected != self.discovery_url:
            raise _unavailable("the discovery document's issuer does not match its URL")
        methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if self._secret is None:
            method = "none"
        elif "client_secret_basic" in methods:
            method = "client_secret_basic"
        elif "client_secret_post" in methods:
            method = "client_secret_post"
        else:
            # private_key_jwt only (Pro Santé Connect's production): docs/sso.md.
            raise _unavailable("the provider accepts neither client_secret_basic nor _post")
        algs = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        allowed = tuple(a for a in algs if a in _ALGORITHMS)
        if not allowed:
            raise _unavailable("the provider signs ID tokens with no supported algorithm")
        return ProviderMetadata(
            issuer=issuer,
            authorization_endpoint=url("authorization_endpoint") or "",
            token_endpoint=url("token_endpoint") or "",
            jwks_uri=url("jwks_uri") or "",
            userinfo_endpoint=url("userinfo_endpoint", required=False),
            token_auth_method=method,
            algorithms=allowed,
        )

    def _keys(self, *, fresh: bool = False) -> KeySet:
        with self._lock:
            cached = self._jwks
        if not fresh and cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        doc = _json(self._get(self.metadata().jwks_uri, "JWKS"), "JWKS")
        try:
            keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise _unavailable("the JWKS holds no usable key") from exc
        with self._lock:
            self._jwks = (time.monotonic(), keys)
        return keys

    # The authorization request and the code -------------------------------------

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_verifier: str,
        scopes: str,
        acr_values: str | None,
    ) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(code_verifier),
            "code_challenge_method": "S256",
        }
        if acr_values:
            params["acr_values"] = acr_values
        uri: str = add_params_to_uri(self.metadata().authorization_endpoint, params)
        return uri

    def redeem(self, code: str, *, redirect_uri: str, code_verifier: str) -> TokenResponse:
        """Exchange the authorization code for the tokens (Core 3.1.3.1)."""
        meta = self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        headers = {"Accept": "application/json"}
        secret = self._secret.get_secret_value() if self._secret is not None else ""
        if meta.token_auth_method == "client_secret_basic":  # noqa: S105 - a method name
            # RFC 6749 2.3.1: each part encoded, then Basic; a space as %20, which
            # both form decoders and plain percent-decoders (Authlib's) read back.
            pair = f"{quote(self.client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = self.client_id
            if meta.token_auth_method == "client_secret_post":  # noqa: S105 - a method name
                form["client_secret"] = secret
        try:
            with httpx.Client(timeout=self._timeout, follow_redirects=False) as client:
                response = client.post(meta.token_endpoint, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise _unavailable(f"token endpoint unreachable ({type(exc).__name__})") from exc
        if response.status_code in {400, 401}:
            # invalid_grant (a code used twice, a wrong verifier) or invalid_client.
            error = _error_code(response)
            log.warning("OpenID provider: the token endpoint refused the code (%s)", error)
            raise SsoTokenInvalid(f"code refused: {error}")
        body = _json(response, "token endpoint")
        id_token = body.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SsoTokenInvalid("no ID token")
        access_token = body.get("access_token")
        return TokenResponse(
            id_token=id_token,
            access_token=access_token if isinstance(access_token, str) else None,
        )

    # The ID token ----------------------------------------------------------------

    def verify_id_token(self, token: TokenResponse, *, nonce: str, now: float) -> dict[str, Any]:
        """The ID token's claims, once its signature and claims are checked; else
        SsoTokenInvalid saying which check failed."""
        meta = self.metadata()
        try:
            try:
                decoded = jwt.decode(token.id_token, self._keys(), algorithms=meta.algorithms)
            except (InvalidKeyIdError, MissingKeyError):
                # A key id we do not know: the provider may have rotated its keys.
                decoded = jwt.decode(
                    token.id_token, self._keys(fresh=True), algorithms=meta.algorithms
                )
        except (InvalidKeyIdError, MissingKeyError):
            raise SsoTokenInvalid("unknown signing key") from None
        except BadSignatureError:
            raise SsoTokenInvalid("bad signature") from None
        except (JoseError, ValueError, TypeError):
            raise SsoTokenInvalid("malformed or unsupported token") from None
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": meta.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        }
        params: dict[str, Any] = {"nonce": nonce, "client_id": self.client_id}
        if token.access_token is not None:
            params["access_token"] = token.access_token
        claims = CodeIDToken(dict(decoded.claims), decoded.header, options, params)
        try:
            claims.validate(now=int(now), leeway=LEEWAY_SECONDS)
        except ExpiredTokenError:
            raise SsoTokenInvalid("expired") from None
        except MissingClaimError as exc:
            raise SsoTokenInvalid(f"missing claim {exc.claim}") from None
        except ClaimError as exc:
            raise SsoTokenInvalid(
                _CLAIM_REASONS.get(exc.claim, f"invalid claim {exc.claim}")
            ) from None
        aud = claims.get("aud")
        # Core 3.1.3.7 (3): several audiences must all be trusted; we trust only
        # ourselves, so azp must then name us (checked by CodeIDToken when present).
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.client_id:
            raise SsoTokenInvalid("wrong audience")
        return dict(claims)

    def userinfo(self, access_token: str) -> dict[str, Any]:
        """The UserInfo response (Core 5.3), JSON form only."""
        meta = self.metadata()
        if meta.userinfo_endpoint is None:
            return {}
        try:
            with httpx.Client(timeout=self._timeout, follow_redirects=False) as client:
                response = client.get(
                    meta.userinfo_endpoint,
                    headers={
                        "Authorization": f"Bearer {access_token}",
                        "Accept": "application/json",
                    },
                )
        except httpx.HTTPError as exc:
            raise _unavailable(f"userinfo unreachable ({type(exc).__name__})") from exc
        if response.headers.get("content-type", "").startswith("application/jwt"):
            return self._signed_userinfo(response.text, meta)
        return _json(response, "userinfo")

    def _signed_userinfo(self, text: str, meta: ProviderMetadata) -> dict[str, Any]:
        """A UserInfo response sent as a signed JWT (Core 5.3.2; Pro Santé Connect)."""
        try:
            decoded = jwt.decode(text.strip(), self._keys(), algorithms=meta.algorithms)
        except JoseError:
            raise SsoTokenInvalid("userinfo: bad signature") from None
        claims = dict(decoded.claims)
        if claims.get("iss", meta.issuer) != meta.issuer:
            raise SsoTokenInvalid("userinfo: wrong issuer")
        aud = claims.get("aud", self.client_id)
        if self.client_id not in (aud if isinstance(aud, list) else [aud]):
            raise SsoTokenInvalid("userinfo: wrong audience")
        return claims


def _error_code(response: httpx.Response) -> str:
    """The OAuth `error` of an error answer, reduced to a safe token."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    error = body.get("error") if isinstance(body, dict) else None
    return safe_token(error) if isinstance(error, str) else f"HTTP {response.status_code}"


def safe_token(value: str) -> str:
    """An OAuth error code as it may appear in a message and a log: RFC 6749 limits
    `error` to printable ASCII; keep letters, digits, '_' and '-' only, 64 at most."""
    kept = "".join(c for c in value if c.isascii() and (c.isalnum() or c in "_-"))
    return kept[:64] or "error"
