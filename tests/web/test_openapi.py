"""The OpenAPI document publishes every endpoint of API.md, with problem responses."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

# API.md, "Endpoints" (method, path). Rows of later issues are added as they land:
# audit (issue 4).
CONTRACT = [
    ("post", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("post", "/api/v1/session/unlock"),
    ("get", "/api/v1/me"),
    ("post", "/api/v1/tokens"),
    ("get", "/api/v1/spaces"),
    ("post", "/api/v1/spaces"),
    ("get", "/api/v1/spaces/{space}/members"),
    ("put", "/api/v1/spaces/{space}/members/{principal}"),
    ("delete", "/api/v1/spaces/{space}/members/{principal}"),
    ("get", "/api/v1/spaces/{space}/grants/{path}"),
    ("put", "/api/v1/spaces/{space}/grants/{path}"),
    ("delete", "/api/v1/spaces/{space}/grants/{path}"),
    ("put", "/api/v1/spaces/{space}/content/{path}"),
    ("get", "/api/v1/spaces/{space}/content/{path}"),
    ("get", "/api/v1/spaces/{space}/nodes/{path}"),
    ("post", "/api/v1/spaces/{space}/folders/{path}"),
    ("delete", "/api/v1/spaces/{space}/nodes/{path}"),
    ("post", "/api/v1/spaces/{space}/move"),
    ("get", "/api/v1/spaces/{space}/versions/{path}"),
    ("post", "/api/v1/spaces/{space}/versions/{path}/{version}/restore"),
    ("get", "/api/v1/spaces/{space}/trash"),
    ("post", "/api/v1/spaces/{space}/trash/{item}/restore"),
    ("post", "/api/v1/uploads"),
    ("head", "/api/v1/uploads/{upload_id}"),
    ("patch", "/api/v1/uploads/{upload_id}"),
    ("delete", "/api/v1/uploads/{upload_id}"),
    ("get", "/api/v1/audit/entries"),
    ("get", "/api/v1/audit/checkpoint"),
    ("get", "/api/v1/audit/proof/{seq}"),
    ("get", "/api/v1/audit/consistency"),
    ("get", "/api/v1/audit/reports/{kind}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
]


@pytest.fixture
def openapi(app_client: TestClient) -> dict[str, dict[str, object]]:
    document = app_client.get("/api/v1/openapi.json").json()
    paths: dict[str, dict[str, object]] = document["paths"]
    return paths


@pytest.mark.parametrize(("method", "path"), CONTRACT)
def test_contract_endpoint_is_published(
    openapi: dict[str, dict[str, object]], method: str, path: str
) -> None:
    assert path in openapi, f"{path} missing from the OpenAPI document"
    assert method in openapi[path], f"{method.upper()} {path} missing"


def test_no_undocumented_endpoint(openapi: dict[str, dict[str, object]]) -> None:
    contract = {(m, p) for m, p in CONTRACT}
    extra = {("get", "/api/v1/tokens"), ("delete", "/api/v1/tokens/{token_id}")}
    extra |= {("head", "/api/v1/spaces/{space}/content/{path}")}
    extra |= {("options", "/api/v1/uploads")}  # tus capabilities
    extra |= {("post", "/api/v1/me/password")}
    # Second factors (issue 5): the second step of a sign-in, and my factors.
    extra |= {("post", "/api/v1/session/mfa"), ("get", "/api/v1/me/mfa")}
    extra |= {("post", "/api/v1/me/mfa/totp"), ("delete", "/api/v1/me/mfa/totp")}
    extra |= {("post", "/api/v1/me/mfa/totp/confirm"), ("post", "/api/v1/me/mfa/recovery-codes")}
    # OpenID Connect single sign-on (issue 5, item 4): three GETs a browser follows.
    extra |= {("get", "/api/v1/sso"), ("get", "/api/v1/sso/login"), ("get", "/api/v1/sso/callback")}
    # Passkeys (issue 5, item 2): mine, the second factor, the passwordless log-in.
    extra |= {("post", "/api/v1/me/mfa/passkeys/options"), ("post", "/api/v1/me/mfa/passkeys")}
    extra |= {("get", "/api/v1/me/mfa/passkeys")}
    extra |= {("patch", "/api/v1/me/mfa/passkeys/{passkey_id}")}
    extra |= {("delete", "/api/v1/me/mfa/passkeys/{passkey_id}")}
    # Ransomware incidents (issue 8, item 2): docs/api.md, "Ransomware incidents".
    extra |= {("get", "/api/v1/incidents"), ("get", "/api/v1/incidents/{incident_id}")}
    extra |= {("post", "/api/v1/incidents/{incident_id}/release")}
    extra |= {("post", "/api/v1/incidents/{incident_id}/confirm")}
    # Roll-backs (issue 8, item 3; ADR 24): an incident, a space at an instant.
    extra |= {("post", "/api/v1/incidents/{incident_id}/restore")}
    extra |= {("post", "/api/v1/spaces/{space}/restore")}
    extra |= {("post", "/api/v1/session/mfa/passkey/options")}
    extra |= {("post", "/api/v1/session/mfa/passkey")}
    extra |= {("post", "/api/v1/session/passkey/options"), ("post", "/api/v1/session/passkey")}
    # The device authorization flow of `egide login` (RFC 8628, issue 5).
    extra |= {("post", "/api/v1/device/authorize"), ("post", "/api/v1/device/token")}
    extra |= {("post", "/api/v1/device/lookup"), ("post", "/api/v1/device/approve")}
    # My sessions, a user's for administrators (issue 5, item 6): docs/api.md.
    extra |= {("get", "/api/v1/sessions"), ("delete", "/api/v1/sessions/{session_id}")}
    # Sharing (issue 7, docs/sharing.md): links made and managed, opened without an account.
    extra |= {("post", "/api/v1/spaces/{space}/links/{path}")}
    extra |= {("get", "/api/v1/spaces/{space}/links/{path}")}
    extra |= {("get", "/api/v1/links"), ("delete", "/api/v1/links/id/{link_id}")}
    extra |= {("get", "/api/v1/spaces/{space}/link-policy")}
    extra |= {("put", "/api/v1/spaces/{space}/link-policy")}
    extra |= {("get", "/api/v1/shared-with-me"), ("get", "/api/v1/links/{token}")}
    extra |= {("post", "/api/v1/links/{token}/password")}
    extra |= {("post", "/api/v1/links/{token}/verify")}
    extra |= {("post", "/api/v1/links/{token}/verify/confirm")}
    extra |= {("get", "/api/v1/links/{token}/content/{path}")}
    extra |= {("get", "/api/v1/links/{token}/zip")}
    extra |= {("put", "/api/v1/links/{token}/files/{name}")}  # file requests (ADR 25)
    # The admin area (issue 6, item 1): docs/api.md, "Administration".
    extra |= {("get", "/api/v1/admin/users"), ("post", "/api/v1/admin/users")}
    extra |= {("post", "/api/v1/admin/users/{username}/disable")}
    extra |= {("post", "/api/v1/admin/users/{username}/enable")}
    extra |= {("post", "/api/v1/admin/users/{username}/password")}
    extra |= {("post", "/api/v1/admin/users/{username}/mfa-reset")}
    extra |= {("put", "/api/v1/admin/users/{username}/roles")}
    extra |= {("get", "/api/v1/admin/groups"), ("post", "/api/v1/admin/groups")}
    extra |= {("delete", "/api/v1/admin/groups/{name}")}
    extra |= {("get", "/api/v1/admin/groups/{name}/members")}
    extra |= {("put", "/api/v1/admin/groups/{name}/members/{username}")}
    extra |= {("delete", "/api/v1/admin/groups/{name}/members/{username}")}
    extra |= {("get", "/api/v1/admin/spaces"), ("put", "/api/v1/admin/spaces/{space}/quota")}
    # Notifications (issue 7, item 5): docs/api.md, "Notifications".
    extra |= {("get", "/api/v1/notifications"), ("post", "/api/v1/notifications/read")}
    extra |= {("get", "/api/v1/me/notifications"), ("put", "/api/v1/me/notifications")}
    extra |= {("get", "/api/v1/follows"), ("put", "/api/v1/spaces/{space}/follow/{path}")}
    extra |= {("delete", "/api/v1/spaces/{space}/follow/{path}")}
    published = {(method, path) for path, operations in openapi.items() for method in operations}
    assert published - contract - extra == set()
