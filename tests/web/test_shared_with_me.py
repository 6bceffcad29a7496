"""`GET /api/v1/shared-with-me`, file grants over HTTP, and revocation for open sessions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from egide.services.registry import Services
from egide.web.app import create_app
from tests.vault_fixtures import PASSWORD, SYSTEM


@pytest.fixture
def bob_client(svc: Services, alice_client: TestClient) -> Iterator[TestClient]:
    """bob, signed in in a browser of his own, with no role anywhere yet."""
    svc.accounts.create_user(SYSTEM, "bob", password=PASSWORD, display_name="Dr Bob Petit")
    with TestClient(create_app(svc), headers={"Accept-Language": "en"}) as client:
        answer = client.post("/api/v1/session", json={"username": "bob", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        yield client


@pytest.fixture
def record(svc: Services, alice_client: TestClient) -> None:
    """alice manages `cardio` and holds a folder and a file in it."""
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "manager")
    assert alice_client.post("/api/v1/spaces/cardio/folders/dupont").status_code == 201
    put = alice_client.put("/api/v1/spaces/cardio/content/dupont/echo.pdf", content=b"echo")
    assert put.status_code == 201, put.text


def test_a_file_is_shared_listed_and_opened(
    svc: Services, alice_client: TestClient, bob_client: TestClient, record: None
) -> None:
    given = alice_client.put(
        "/api/v1/spaces/cardio/grants/dupont/echo.pdf",
        json={"principal": "user:bob", "role": "reader"},
    )
    assert given.status_code == 200, given.text
    assert given.json()["path"] == "/dupont/echo.pdf"
    listed = alice_client.get("/api/v1/spaces/cardio/grants/dupont/echo.pdf").json()
    assert [g["principal"] for g in listed] == ["user:bob"]

    shared = bob_client.get("/api/v1/shared-with-me")
    assert shared.status_code == 200
    (item,) = shared.json()
    assert item["space"] == "cardio"
    assert item["path"] == "/dupont/echo.pdf"
    assert (item["kind"], item["role"], item["shared_by"], item["via_group"]) == (
        "file",
        "reader",
        "alice",
        None,
    )
    assert bob_client.get("/api/v1/spaces/cardio/content/dupont/echo.pdf").content == b"echo"
    assert bob_client.get("/api/v1/spaces/cardio/nodes/dupont").status_code == 404


def test_revoking_ends_access_for_open_sessions_tokens_and_cached_listings(
    svc: Services, alice_client: TestClient, bob_client: TestClient, record: None
) -> None:
    alice_client.put(
        "/api/v1/spaces/cardio/grants/dupont", json={"principal": "user:bob", "role": "reader"}
    )
    bob = svc.accounts.principal_for_username("bob")
    _, secret = svc.accounts.create_token(bob, "poste", ["files:read"])
    by_token = {"Authorization": f"Bearer {secret}"}
    for _ in range(2):  # the second listing is served from the listing cache
        assert bob_client.get("/api/v1/spaces/cardio/nodes/dupont").status_code == 200
        assert (
            bob_client.get("/api/v1/spaces/cardio/nodes/dupont", headers=by_token).status_code
            == 200
        )

    removed = alice_client.request(
        "DELETE", "/api/v1/spaces/cardio/grants/dupont", json={"principal": "user:bob"}
    )
    assert removed.status_code == 204
    for headers in ({}, by_token):
        assert (
            bob_client.get("/api/v1/spaces/cardio/nodes/dupont", headers=headers).status_code == 404
        )
        got = bob_client.get("/api/v1/spaces/cardio/content/dupont/echo.pdf", headers=headers)
        assert got.status_code == 404
    assert bob_client.get("/api/v1/shared-with-me").json() == []


def test_a_group_share_is_listed_through_the_group(
    svc: Services, alice_client: TestClient, bob_client: TestClient, record: None
) -> None:
    svc.accounts.create_group(SYSTEM, "urgences")
    svc.accounts.add_member(SYSTEM, "urgences", "bob")
    alice_client.put(
        "/api/v1/spaces/cardio/grants/dupont",
        json={"principal": "group:urgences", "role": "contributor"},
    )
    (item,) = bob_client.get("/api/v1/shared-with-me").json()
    assert (item["path"], item["kind"], item["role"], item["via_group"]) == (
        "/dupont",
        "folder",
        "contributor",
        "urgences",
    )
    # Leaving the group ends the share at the very next request of the same session.
    svc.accounts.remove_member(SYSTEM, "urgences", "bob")
    assert bob_client.get("/api/v1/shared-with-me").json() == []
    assert bob_client.get("/api/v1/spaces/cardio/nodes/dupont").status_code == 404


def test_members_of_the_space_see_no_shared_entries(alice_client: TestClient, record: None) -> None:
    assert alice_client.get("/api/v1/shared-with-me").json() == []


def test_shared_with_me_needs_credentials(app_client: TestClient) -> None:
    assert app_client.get("/api/v1/shared-with-me").status_code == 401
