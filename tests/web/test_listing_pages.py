"""GET /nodes/{folder}: the listing's JSON, built without models, is the documented `Listing`."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from egide.services.access.policy import Principal
from egide.services.registry import Services
from egide.web.api.tree import Listing, NodeOut

BASE = "/api/v1/spaces/cardio"
NAMES = ["b.txt", "A.txt", 'écho "guillemets" \\ é.txt', "c.txt", "Zeta/", "alpha/"]


@pytest.fixture
def folder(alice_client: TestClient) -> str:
    assert alice_client.post(f"{BASE}/folders/Dossier").status_code == 201
    for name in NAMES:
        if name.endswith("/"):
            assert alice_client.post(f"{BASE}/folders/Dossier/{name}").status_code == 201
        else:
            response = alice_client.put(f"{BASE}/content/Dossier/{name}", content=name.encode())
            assert response.status_code == 201, response.text
    return "Dossier"


def expected(svc: Services, actor: Principal, offset: int, limit: int) -> bytes:
    """The response model's own JSON, from the service's values."""
    items = [NodeOut.of(i) for i in svc.nodes.list_folder(actor, "cardio", "Dossier")]
    following = offset + limit
    return (
        Listing(
            folder=NodeOut.of(svc.nodes.stat(actor, "cardio", "Dossier")),
            items=items[offset:following],
            total=len(items),
            next_offset=following if following < len(items) else None,
        )
        .model_dump_json()
        .encode()
    )


@pytest.mark.parametrize(
    ("offset", "limit"), [(0, 1000), (0, 2), (2, 2), (4, 2), (5, 10), (6, 1), (40, 3)]
)
def test_pages_are_the_listing_model(
    svc: Services,
    alice_client: TestClient,
    folder: str,
    offset: int,
    limit: int,
) -> None:
    alice = svc.accounts.principal_for_username("alice")
    response = alice_client.get(f"{BASE}/nodes/{folder}", params={"offset": offset, "limit": limit})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == expected(svc, alice, offset, limit)
    Listing.model_validate_json(response.content)


def test_whole_folder_in_order(alice_client: TestClient, folder: str) -> None:
    body = alice_client.get(f"{BASE}/nodes/{folder}").json()
    assert [i["name"] for i in body["items"]] == [
        "alpha",
        "Zeta",
        "A.txt",
        "b.txt",
        "c.txt",
        'écho "guillemets" \\ é.txt',
    ]
    assert body["total"] == 6
    assert body["next_offset"] is None
    assert body["folder"]["path"] == "/Dossier"


def test_a_second_listing_sees_a_change(alice_client: TestClient, folder: str) -> None:
    first = alice_client.get(f"{BASE}/nodes/{folder}").json()
    moved = alice_client.post(f"{BASE}/move", json={"from": "Dossier/c.txt", "to": "Dossier/C.txt"})
    assert moved.status_code == 200
    second = alice_client.get(f"{BASE}/nodes/{folder}").json()
    assert [i["name"] for i in first["items"]][4] == "c.txt"
    assert [i["name"] for i in second["items"]][4] == "C.txt"
