"""Making, listing and revoking external links, and the spaces' link policies (issue 7)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models.sharing import ShareLink
from egide.core.errors import InvalidInput, NotFound
from egide.services.access.errors import GlobalRoleRequired, RoleTooLow
from egide.services.access.policy import GlobalRole, Principal
from egide.services.mail.errors import InvalidMailAddress
from egide.services.registry import Services
from egide.services.sharing.errors import InvalidLinkInput, LinksForbidden
from tests.vault_fixtures import SYSTEM, MakeUser

pytestmark = pytest.mark.db

TO = ["dr.durand@clinique.example"]


@pytest.fixture
def note(svc: Services, alice: Principal) -> str:
    svc.files.write(alice, "cardio", "/echo.pdf", [b"echo"])
    return "/echo.pdf"


def test_a_link_is_made_with_a_strong_token_stored_as_a_hash_only(
    svc: Services, alice: Principal, note: str, clock: ManualClock
) -> None:
    made = svc.sharing.create_link(alice, "cardio", note, recipients=TO)
    assert len(made.token) >= 43  # 32 random bytes, base64url
    assert made.token not in repr(made)
    link = made.link
    assert link.expires_at == clock.now() + dt.timedelta(days=7)
    assert (link.kind, link.path, link.created_by, link.state) == ("file", note, "alice", "active")
    assert link.recipients == tuple(TO)
    assert link.require_verification
    with svc.db.read() as session:
        row = session.scalars(select(ShareLink)).one()
    assert row.token_hash == hashlib.sha256(made.token.encode()).hexdigest()
    assert made.token not in {row.token_hash, row.id}


def test_expiry_is_mandatory_in_the_future_and_capped(
    svc: Services, alice: Principal, note: str, clock: ManualClock
) -> None:
    now = clock.now()
    for bad in (now - dt.timedelta(minutes=1), now + dt.timedelta(days=31)):
        with pytest.raises(InvalidLinkInput):
            svc.sharing.create_link(alice, "cardio", note, expires_at=bad, recipients=TO)
    with pytest.raises(InvalidLinkInput):
        svc.sharing.create_link(
            alice,
            "cardio",
            note,
            expires_at=now.replace(tzinfo=None) + dt.timedelta(days=1),
            recipients=TO,
        )
    later = now + dt.timedelta(days=30)
    assert (
        svc.sharing.create_link(
            alice, "cardio", note, expires_at=later, recipients=TO
        ).link.expires_at
        == later
    )


def test_recipients_are_bare_addresses_so_no_header_can_be_injected(
    svc: Services, alice: Principal, note: str
) -> None:
    for bad in (
        "dr.durand@clinique.example\r\nBcc: everyone@evil.example",
        "Dr Durand <dr.durand@clinique.example>",
        "a@clinique.example, b@clinique.example",
    ):
        with pytest.raises(InvalidMailAddress):
            svc.sharing.create_link(alice, "cardio", note, recipients=[bad])
    with pytest.raises(InvalidLinkInput):
        svc.sharing.create_link(alice, "cardio", note)  # verification on: who would verify?
    made = svc.sharing.create_link(
        alice,
        "cardio",
        note,
        recipients=["Dr.Durand@Clinique.Example", "dr.durand@clinique.example"],
    )
    assert made.link.recipients == ("Dr.Durand@clinique.example",)


def test_readers_cannot_make_links_and_the_refusal_is_audited(
    svc: Services, alice: Principal, note: str, make_user: MakeUser
) -> None:
    reader = make_user("bob")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "reader")
    with pytest.raises(RoleTooLow):
        svc.sharing.create_link(reader, "cardio", note, recipients=TO)
    outsider = make_user("eve")
    with pytest.raises(NotFound):
        svc.sharing.create_link(outsider, "cardio", note, recipients=TO)


def test_a_space_policy_forbids_links_or_lets_verification_be_optional(
    svc: Services, alice: Principal, note: str
) -> None:
    with pytest.raises(InvalidLinkInput):
        svc.sharing.create_link(alice, "cardio", note, require_verification=False)
    policy = svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False, max_days=3)
    assert (policy.links_allowed, policy.max_days, policy.verification_required) == (
        True,
        3,
        False,
    )
    made = svc.sharing.create_link(alice, "cardio", note, require_verification=False)
    assert made.link.expires_at - made.link.created_at == dt.timedelta(days=3)

    svc.sharing.set_link_policy(SYSTEM, "cardio", links_allowed=False)
    with pytest.raises(LinksForbidden):
        svc.sharing.create_link(alice, "cardio", note, recipients=TO)
    with pytest.raises(GlobalRoleRequired):
        svc.sharing.set_link_policy(alice, "cardio", links_allowed=True)
    with pytest.raises(InvalidInput):
        svc.sharing.set_link_policy(SYSTEM, "cardio", max_days=31)
    assert not svc.sharing.link_policy(alice, "cardio").links_allowed


def test_who_may_list_and_revoke(
    svc: Services, alice: Principal, note: str, make_user: MakeUser
) -> None:
    colleague = make_user("carole")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:carole", "contributor")
    manager = make_user("marc")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:marc", "manager")
    admin = make_user("root", GlobalRole.ADMIN)
    links = [svc.sharing.create_link(alice, "cardio", note, recipients=TO).link for _ in range(3)]

    assert {link.id for link in svc.sharing.list_links(alice)} == {link.id for link in links}
    assert svc.sharing.list_links(colleague) == []
    assert len(svc.sharing.links_of(colleague, "cardio", note)) == 3
    with pytest.raises(GlobalRoleRequired):
        svc.sharing.list_links(alice, all_links=True)
    assert len(svc.sharing.list_links(admin, all_links=True)) == 3

    with pytest.raises(RoleTooLow):
        svc.sharing.revoke_link(colleague, links[0].id)
    assert svc.sharing.revoke_link(alice, links[0].id).state == "revoked"
    assert svc.sharing.revoke_link(manager, links[1].id).state == "revoked"
    assert svc.sharing.revoke_link(admin, links[2].id).state == "revoked"
    with pytest.raises(NotFound):
        svc.sharing.revoke_link(alice, "no-such-link")


def test_a_whole_space_cannot_be_linked(svc: Services, alice: Principal) -> None:
    with pytest.raises(InvalidLinkInput):
        svc.sharing.create_link(alice, "cardio", "/", recipients=TO)
