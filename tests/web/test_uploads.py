"""tus 1.0.0 at /api/v1/uploads, in process: headers and status codes of every row."""

from __future__ import annotations

import base64
import hashlib

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from egide.services.registry import Services
from tests.vault_fixtures import SYSTEM

TUS = {"Tus-Resumable": "1.0.0"}
STREAM = {"Content-Type": "application/offset+octet-stream"}


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(client: TestClient, length: int, **meta: str) -> str:
    response = client.post(
        "/api/v1/uploads",
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(**meta)},
    )
    assert response.status_code == 201, response.text
    location: str = response.headers["location"]
    return location


def patch(client: TestClient, url: str, offset: int, body: bytes, **headers: str) -> Response:
    return client.patch(
        url, content=body, headers={**TUS, **STREAM, "Upload-Offset": str(offset), **headers}
    )


def test_options_advertises_the_protocol(app_client: TestClient) -> None:
    response = app_client.options("/api/v1/uploads")
    assert response.status_code == 204
    assert response.headers["tus-resumable"] == "1.0.0"
    assert response.headers["tus-version"] == "1.0.0"
    assert response.headers["tus-extension"] == (
        "creation,creation-with-upload,termination,checksum,expiration"
    )
    assert response.headers["tus-checksum-algorithm"] == "sha1,sha256"


def test_missing_tus_resumable_is_412(alice_client: TestClient) -> None:
    response = alice_client.post("/api/v1/uploads", headers={"Upload-Length": "3"})
    assert response.status_code == 412
    assert response.headers["tus-version"] == "1.0.0"
    assert response.headers["tus-resumable"] == "1.0.0"
    assert response.headers["content-type"] == "application/problem+json"
    assert alice_client.head("/api/v1/uploads/whatever").status_code == 412


def test_upload_in_chunks_then_download(alice_client: TestClient) -> None:
    body = bytes(range(256)) * 100
    url = create(alice_client, len(body), space="cardio", path="scan.bin")
    assert url.startswith("/api/v1/uploads/")
    first = patch(alice_client, url, 0, body[:10_000])
    assert first.status_code == 204, first.text
    assert first.headers["upload-offset"] == "10000"
    assert first.headers["tus-resumable"] == "1.0.0"
    head = alice_client.head(url, headers=TUS)
    assert head.status_code == 200
    assert head.headers["upload-offset"] == "10000"
    assert head.headers["upload-length"] == str(len(body))
    assert head.headers["cache-control"] == "no-store"
    assert head.headers["upload-expires"].endswith("GMT")
    last = patch(alice_client, url, 10_000, body[10_000:])
    assert last.status_code == 204
    assert last.headers["upload-offset"] == str(len(body))
    download = alice_client.get("/api/v1/spaces/cardio/content/scan.bin")
    assert download.content == body


def test_creation_with_upload_and_filename_folder(alice_client: TestClient) -> None:
    assert alice_client.post("/api/v1/spaces/cardio/folders/docs").status_code == 201
    response = alice_client.post(
        "/api/v1/uploads",
        content=b"hello",
        headers={
            **TUS,
            **STREAM,
            "Upload-Length": "11",
            "Upload-Metadata": metadata(space="cardio", filename="note.txt", folder="docs"),
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["upload-offset"] == "5"
    assert "upload-expires" in response.headers
    url = response.headers["location"]
    assert patch(alice_client, url, 5, b" world").status_code == 204
    assert alice_client.get("/api/v1/spaces/cardio/content/docs/note.txt").content == (
        b"hello world"
    )


@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        ({"Upload-Metadata": metadata(space="cardio", path="a")}, "Upload-Length is required"),
        ({"Upload-Length": "x", "Upload-Metadata": metadata(space="cardio", path="a")}, "whole"),
        (  # beyond a 64-bit column: refused, not a server error
            {"Upload-Length": str(1 << 63), "Upload-Metadata": metadata(space="cardio", path="a")},
            "whole",
        ),
        (
            {"Upload-Defer-Length": "1", "Upload-Metadata": metadata(space="cardio", path="a")},
            "Upload-Defer-Length",
        ),
        ({"Upload-Length": "3", "Upload-Metadata": metadata(path="a")}, "space"),
        ({"Upload-Length": "3", "Upload-Metadata": metadata(space="cardio")}, "path"),
        ({"Upload-Length": "3", "Upload-Metadata": "space !!!"}, "base64"),
    ],
)
def test_bad_creation_requests_are_400(
    alice_client: TestClient, headers: dict[str, str], needle: str
) -> None:
    response = alice_client.post("/api/v1/uploads", headers={**TUS, **headers})
    assert response.status_code == 400
    assert needle in response.json()["detail"]
    assert response.headers["tus-resumable"] == "1.0.0"


def test_protocol_errors(alice_client: TestClient) -> None:
    url = create(alice_client, 10, space="cardio", path="e.bin")
    assert patch(alice_client, url, 3, b"abc").status_code == 409
    wrong_type = alice_client.patch(
        url, content=b"abc", headers={**TUS, "Upload-Offset": "0", "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert patch(alice_client, url, 0, b"x" * 11).status_code == 413
    bad = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    mismatch = patch(alice_client, url, 0, b"abc", **{"Upload-Checksum": f"sha256 {bad}"})
    assert mismatch.status_code == 460
    assert mismatch.json()["status"] == 460
    assert mismatch.headers["tus-resumable"] == "1.0.0"
    assert patch(alice_client, url, 0, b"abc", **{"Upload-Checksum": "md5 AAAA"}).status_code == 400
    good = base64.b64encode(hashlib.sha1(b"abc", usedforsecurity=False).digest()).decode()
    ok = patch(alice_client, url, 0, b"abc", **{"Upload-Checksum": f"sha1 {good}"})
    assert ok.status_code == 204
    assert ok.headers["upload-offset"] == "3"
    assert alice_client.head(url, headers=TUS).headers["upload-offset"] == "3"


def test_termination_and_not_found(alice_client: TestClient) -> None:
    url = create(alice_client, 10, space="cardio", path="d.bin")
    patch(alice_client, url, 0, b"12345")
    deleted = alice_client.delete(url, headers=TUS)
    assert deleted.status_code == 204
    assert deleted.headers["tus-resumable"] == "1.0.0"
    gone = alice_client.head(url, headers=TUS)
    assert gone.status_code == 404
    assert gone.headers["tus-resumable"] == "1.0.0"


def test_a_hidden_target_fails_at_creation(svc: Services, alice_client: TestClient) -> None:
    svc.spaces.create(SYSTEM, "onco", title="Oncologie")
    response = alice_client.post(
        "/api/v1/uploads",
        headers={**TUS, "Upload-Length": "3", "Upload-Metadata": metadata(space="onco", path="a")},
    )
    assert response.status_code == 404


def test_bearer_tokens_and_csrf(svc: Services, alice_client: TestClient) -> None:
    url = create(alice_client, 10, space="cardio", path="t.bin")
    csrf = alice_client.headers.pop("X-CSRF-Token")
    refused = patch(alice_client, url, 0, b"abc")
    assert refused.status_code == 403
    assert refused.headers["tus-resumable"] == "1.0.0"
    alice_client.headers["X-CSRF-Token"] = csrf
    alice = svc.accounts.principal_for_username("alice")
    _, secret = svc.accounts.create_token(alice, "tus", ["files:read", "files:write"])
    alice_client.cookies.clear()
    with_token = patch(alice_client, url, 0, b"abc", Authorization=f"Bearer {secret}")
    assert with_token.status_code == 204
    assert patch(alice_client, url, 3, b"abc").status_code == 401


def test_openapi_documents_the_uploads(app_client: TestClient) -> None:
    paths = app_client.get("/api/v1/openapi.json").json()["paths"]
    item = paths["/api/v1/uploads/{upload_id}"]
    assert {"head", "patch", "delete"} <= set(item)
    assert {"204", "409", "412", "460"} <= set(item["patch"]["responses"])
    assert {"options", "post"} <= set(paths["/api/v1/uploads"])
