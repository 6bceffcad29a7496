"""Problems in the caller's language (API.md, Conventions): Accept-Language, else the
`language` setting; `title` and `detail` translated, `type` never."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from egide.core.config import Settings
from egide.services.registry import Services
from egide.web.app import create_app

BASE = "/api/v1/spaces/cardio"
TUS = {"Tus-Resumable": "1.0.0"}
NOT_SIGNED_IN_FR = (
    "Vous n'avez pas de session ouverte, ou elle a pris fin. Connectez-vous de nouveau."
)
NOT_SIGNED_IN_EN = "You are not signed in, or your session has ended. Sign in again."


def assert_problem(response: Response, status: int, language: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["content-language"] == language
    assert "Accept-Language" in response.headers["vary"]
    body: dict[str, object] = response.json()
    return body


def in_(language: str) -> dict[str, str]:
    return {"Accept-Language": language}


ClientFactory = Callable[[str], TestClient]


@pytest.fixture
def client_defaulting_to(svc: Services) -> Iterator[ClientFactory]:
    """Clients of an app whose `language` setting is the one given (no Accept-Language)."""
    with ExitStack() as stack:

        def make(language: str) -> TestClient:
            settings = svc.settings.with_overrides(language=language)
            app = create_app(dataclasses.replace(svc, settings=settings))
            return stack.enter_context(TestClient(app))

        yield make


def test_french_when_asked(app_client: TestClient) -> None:
    response = app_client.get(f"{BASE}/nodes/", headers=in_("fr-FR,fr;q=0.9,en;q=0.5"))
    body = assert_problem(response, 401, "fr")
    assert body["title"] == "Non authentifié"
    assert body["detail"] == NOT_SIGNED_IN_FR
    assert body["type"] == "urn:egide:problem:unauthenticated"
    assert response.headers["www-authenticate"] == 'Bearer realm="egide"'


def test_english_when_asked(app_client: TestClient) -> None:
    response = app_client.get(f"{BASE}/nodes/", headers=in_("en-GB, fr;q=0.1"))
    body = assert_problem(response, 401, "en")
    assert body["title"] == "Not authenticated"
    assert body["detail"] == NOT_SIGNED_IN_EN
    assert body["type"] == "urn:egide:problem:unauthenticated"


@pytest.mark.parametrize(
    ("default", "detail"), [("fr", NOT_SIGNED_IN_FR), ("en", NOT_SIGNED_IN_EN)]
)
def test_the_setting_decides_without_a_preference(
    client_defaulting_to: ClientFactory, default: str, detail: str
) -> None:
    client = client_defaulting_to(default)
    for headers in ({}, in_("de-DE"), in_("*"), in_("garbage;q=x")):
        response = client.get(f"{BASE}/nodes/", headers=headers)
        assert assert_problem(response, 401, default)["detail"] == detail


def test_french_is_the_default_setting() -> None:
    assert Settings.model_fields["language"].default == "fr"


def test_a_service_error_with_our_words_in_french(alice_client: TestClient) -> None:
    response = alice_client.get(f"{BASE}/nodes/absent", headers=in_("fr"))
    body = assert_problem(response, 404, "fr")
    assert body["title"] == "Introuvable"
    assert body["detail"] == (
        "Aucun fichier, dossier ou espace correspondant, ou vous n'y avez pas accès."
    )
    assert body["type"] == "urn:egide:problem:not-found"


def test_a_name_error_keeps_its_field(alice_client: TestClient) -> None:
    response = alice_client.post(f"{BASE}/folders/a%00b", headers=in_("fr"))
    body = assert_problem(response, 400, "fr")
    assert body["title"] == "Requête incorrecte"
    assert body["field"] == "name"
    assert "caractères de contrôle" in str(body["detail"])


def test_validation_errors_are_wrapped_in_french(app_client: TestClient) -> None:
    response = app_client.post("/api/v1/session", json={"username": "x"}, headers=in_("fr"))
    body = assert_problem(response, 400, "fr")
    assert body["field"] == "password"
    assert body["detail"] == "Valeur invalide pour password : Champ obligatoire."
    english = app_client.post("/api/v1/session", json={"username": "x"})
    assert english.json()["detail"] == "Invalid value for password: Field required."
    garbage = app_client.post(
        "/api/v1/session",
        content=b"{not json",
        headers={**in_("fr"), "Content-Type": "application/json"},
    )
    assert str(assert_problem(garbage, 400, "fr")["detail"]).startswith("Valeur invalide")


def test_router_errors_in_french(app_client: TestClient) -> None:
    missing = app_client.get("/api/v1/nowhere", headers=in_("fr"))
    assert assert_problem(missing, 404, "fr")["detail"] == "Ressource introuvable"
    wrong = app_client.put("/api/v1/session", headers=in_("fr"))
    body = assert_problem(wrong, 405, "fr")
    assert body["title"] == "Méthode non autorisée"
    assert "allow" in wrong.headers


def test_tus_412_in_french(alice_client: TestClient) -> None:
    response = alice_client.post("/api/v1/uploads", headers={"Upload-Length": "3", **in_("fr")})
    body = assert_problem(response, 412, "fr")
    assert body["title"] == "Précondition non remplie"
    assert body["detail"] == (
        "Ce serveur utilise le protocole tus 1.0.0 : envoyez l'en-tête Tus-Resumable: 1.0.0."
    )
    assert body["type"] == "urn:egide:problem:tus-version"
    assert response.headers["tus-version"] == "1.0.0"
    assert response.headers["tus-resumable"] == "1.0.0"
    english = alice_client.post("/api/v1/uploads", headers={"Upload-Length": "3"})
    assert english.json()["detail"] == ("This server speaks tus 1.0.0: send Tus-Resumable: 1.0.0.")


def test_tus_415_and_460_in_french(alice_client: TestClient) -> None:
    metadata = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {"space": "cardio", "path": "i18n.bin"}.items()
    )
    created = alice_client.post(
        "/api/v1/uploads", headers={**TUS, "Upload-Length": "3", "Upload-Metadata": metadata}
    )
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    wrong_type = alice_client.patch(
        url,
        content=b"abc",
        headers={**TUS, **in_("fr"), "Upload-Offset": "0", "Content-Type": "text/plain"},
    )
    body = assert_problem(wrong_type, 415, "fr")
    assert body["detail"] == (
        "Un corps tus s'envoie avec l'en-tête Content-Type: application/offset+octet-stream."
    )
    assert body["title"] == "Type de contenu non pris en charge"
    other = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    mismatch = alice_client.patch(
        url,
        content=b"abc",
        headers={
            **TUS,
            **in_("fr"),
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
            "Upload-Checksum": f"sha256 {other}",
        },
    )
    body = assert_problem(mismatch, 460, "fr")
    assert body["status"] == 460
    assert body["title"] == "Somme de contrôle incorrecte"
    assert body["type"] == "urn:egide:problem:checksum-mismatch"
    assert body["detail"] == (
        "Le corps ne correspond pas à son Upload-Checksum ; rien n'en a été conservé. "
        "Renvoyez-le à partir de la même position."
    )
    assert mismatch.headers["tus-resumable"] == "1.0.0"
