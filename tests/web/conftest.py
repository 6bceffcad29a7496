"""The web application on a real vault, driven in-process through httpx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from egide.services.registry import Services
from egide.web.app import create_app
from tests.vault_fixtures import PASSWORD, SYSTEM


@pytest.fixture(autouse=True)
def english_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """The web tests assert English texts: English is the default language for every
    client, including those a test builds itself (tests/web/test_i18n.py sets French)."""
    monkeypatch.setenv("EGIDE_LANGUAGE", "en")


@pytest.fixture
def app_client(svc: Services) -> Iterator[TestClient]:
    # English texts are asserted throughout; tests/web/test_i18n.py covers French.
    with TestClient(
        create_app(svc), base_url="http://testserver", headers={"Accept-Language": "en"}
    ) as client:
        yield client


@pytest.fixture
def alice_client(svc: Services, app_client: TestClient, make_user: object) -> TestClient:
    """Signed in as alice, contributor of `cardio`; CSRF header preset."""
    svc.spaces.create(SYSTEM, "cardio", title="Cardiologie")
    svc.accounts.create_user(SYSTEM, "alice", password=PASSWORD)
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "contributor")
    response = app_client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    app_client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return app_client
