"""Canary files: placed by an administrator, real files anyone may see, and any
touch by a user contains that user at once (issue 8, item 1)."""

from __future__ import annotations

import dataclasses

import pytest

from egide.core.clock import ManualClock
from egide.core.errors import EgideError
from egide.services.access.policy import Principal
from egide.services.ransomware.canaries import CANARY_NAME
from egide.services.ransomware.errors import PrincipalContained
from egide.services.registry import Services
from tests.vault_fixtures import SYSTEM

SLUG = "cardio"
ROOT_DECOY = f"/{CANARY_NAME}"


@pytest.fixture
def guarded(svc: Services, alice: Principal, clock: ManualClock) -> Principal:
    """cardio with two folders and decoys; alice acting through a session."""
    svc.nodes.mkdir(alice, SLUG, "dossiers")
    svc.nodes.mkdir(alice, SLUG, "imagerie")
    svc.files.write(alice, SLUG, "dossiers/cr.txt", [b"compte rendu"])
    written = svc.canaries.enable(SYSTEM, SLUG)
    assert sorted(written) == sorted(
        [ROOT_DECOY, f"/dossiers/{CANARY_NAME}", f"/imagerie/{CANARY_NAME}"]
    )
    clock.advance(seconds=5)
    return dataclasses.replace(alice, session_id="s1")


def test_enable_is_idempotent_and_listed(svc: Services, guarded: Principal) -> None:
    assert svc.canaries.enable(SYSTEM, SLUG) == []
    assert len(svc.canaries.list(SYSTEM, SLUG)) == 3
    # Real files: listed and readable by the space's members, in a valid document.
    names = [n.name for n in svc.nodes.list_folder(guarded, SLUG, "")]
    assert CANARY_NAME in names
    data = b"".join(svc.files.open(guarded, SLUG, ROOT_DECOY).iter_bytes())
    assert data.startswith(b"PK\x03\x04")


def test_only_administrators_place_canaries(svc: Services, guarded: Principal) -> None:
    with pytest.raises(EgideError):
        svc.canaries.enable(guarded, SLUG)
    with pytest.raises(EgideError):
        svc.canaries.list(guarded, SLUG)


@pytest.mark.parametrize("touch", ["write", "rename", "delete", "delete-folder"])
def test_any_touch_contains_at_once(svc: Services, guarded: Principal, touch: str) -> None:
    if touch == "write":
        svc.files.write(guarded, SLUG, ROOT_DECOY, [b"encrypted"])
    elif touch == "rename":
        svc.nodes.move(guarded, SLUG, ROOT_DECOY, ROOT_DECOY + ".locked")
    elif touch == "delete":
        svc.nodes.delete(guarded, SLUG, ROOT_DECOY)
    else:
        svc.nodes.delete(guarded, SLUG, "imagerie")
    [incident] = svc.incidents.list(SYSTEM)
    assert incident.reason == "canary"
    with pytest.raises(PrincipalContained):
        svc.files.open(guarded, SLUG, "dossiers/cr.txt")


def test_reading_a_canary_is_not_a_touch(svc: Services, guarded: Principal) -> None:
    b"".join(svc.files.open(guarded, SLUG, ROOT_DECOY).iter_bytes())
    svc.nodes.move(guarded, SLUG, "dossiers/cr.txt", "dossiers/cr-2026.txt")
    assert svc.incidents.list(SYSTEM) == []
