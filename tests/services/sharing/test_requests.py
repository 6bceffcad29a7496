"""File requests: upload-only links to a folder (issue 7, item 3; ADR 25)."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models import AuditEvent, RansomwareEvent
from egide.core.db.models.sharing import ShareLink
from egide.services.access.policy import Principal
from egide.services.audit.actions import AuditAction
from egide.services.registry import Services
from egide.services.sharing.errors import (
    InvalidLinkInput,
    LinkLocked,
    LinkNotFound,
    LinkPasswordWrong,
    LinkThrottled,
    RequestFolderFull,
    RequestTooLarge,
)
from tests.services.mail.smtp_server import SmtpServer
from tests.services.sharing.helpers import from_address, mailed_code
from tests.vault_fixtures import SYSTEM

pytestmark = pytest.mark.db

LAB = "resultats@labo.example"
PASSWORD = "sept chevaux bleus au galop"


@pytest.fixture
def inbox(svc: Services, alice: Principal) -> str:
    """The folder `/dupont` holding a file of the record already."""
    svc.nodes.mkdir(alice, "cardio", "dupont")
    svc.files.write(alice, "cardio", "/dupont/bilan.pdf", [b"le bilan existant"])
    return "/dupont"


def _request(svc: Services, alice: Principal, **options: object) -> str:
    options.setdefault("recipients", [LAB])
    return svc.sharing.create_request(alice, "cardio", "/dupont", **options).token  # type: ignore[arg-type]


def _verified(svc: Services, smtp: SmtpServer, token: str, cookie: str | None = None) -> str:
    svc.link_access.send_code(token, cookie, LAB)
    code = mailed_code(svc, smtp, LAB)
    return svc.link_access.confirm_code(token, cookie, LAB, code).cookie


def _names(svc: Services, alice: Principal) -> list[str]:
    return sorted(item.name for item in svc.nodes.list_folder(alice, "cardio", "/dupont"))


def _read(svc: Services, alice: Principal, path: str) -> bytes:
    return b"".join(svc.files.open(alice, "cardio", path).iter_bytes())


def _blobs(svc: Services) -> int:
    return sum(1 for _ in svc.blobs.iter_blobs())


def test_password_code_then_upload_and_nothing_is_listed(
    svc: Services, alice: Principal, inbox: str, smtp: SmtpServer
) -> None:
    token = _request(svc, alice, password=PASSWORD, max_file_bytes=1000, max_total_bytes=5000)
    with from_address():
        assert svc.link_access.open(token, None).needs == ("password", "verification")
        with pytest.raises(LinkLocked):
            svc.link_access.receive(token, None, "cr.pdf", [b"x"], 1)
        with pytest.raises(LinkPasswordWrong):
            svc.link_access.give_password(token, None, "pas le bon mot de passe")
        first = svc.link_access.give_password(token, None, PASSWORD).cookie
        with pytest.raises(LinkLocked):
            svc.link_access.receive(token, first, "cr.pdf", [b"x"], 1)
        cookie = _verified(svc, smtp, token, first)
        view = svc.link_access.open(token, cookie)
        # The sender and what may be sent; nothing of the folder, not even its name.
        assert (view.kind, view.name, view.files, view.sender) == ("request", None, (), "alice")
        assert (view.max_file_bytes, view.bytes_left, view.files_left) == (1000, 5000, None)
        got = svc.link_access.receive(token, cookie, "compte-rendu.pdf", [b"resultats"], 9)
        assert (got.name, got.size) == ("compte-rendu.pdf", 9)
        assert svc.link_access.open(token, cookie).bytes_left == 5000 - 9
        # Downloading or zipping through a request answers like a closed link.
        with pytest.raises(LinkNotFound):
            svc.link_access.download(token, cookie, "bilan.pdf")
        with pytest.raises(LinkNotFound):
            svc.link_access.zip(token, cookie)
    assert _names(svc, alice) == ["bilan.pdf", "compte-rendu.pdf"]
    assert _read(svc, alice, "/dupont/compte-rendu.pdf") == b"resultats"
    version = svc.files.versions(alice, "cardio", "/dupont/compte-rendu.pdf")[0]
    assert version.created_by == alice.user_id  # written as the creator, by the write path


def test_a_taken_name_is_stored_under_a_new_one_and_the_recipient_is_not_told(
    svc: Services, alice: Principal, inbox: str
) -> None:
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = _request(svc, alice, recipients=[], require_verification=False)
    with from_address():
        assert svc.link_access.open(token, None).kind == "request"
        first = svc.link_access.receive(token, None, "bilan.pdf", [b"nouveau"], 7)
        second = svc.link_access.receive(token, None, "bilan.pdf", [b"encore"], 6)
    # The answer repeats the name sent: it cannot tell that a file had it.
    assert first.name == second.name == "bilan.pdf"
    assert _names(svc, alice) == ["bilan (2).pdf", "bilan (3).pdf", "bilan.pdf"]
    assert _read(svc, alice, "/dupont/bilan.pdf") == b"le bilan existant"  # not a new version
    assert len(svc.files.versions(alice, "cardio", "/dupont/bilan.pdf")) == 1
    assert _read(svc, alice, "/dupont/bilan (2).pdf") == b"nouveau"
    with svc.db.read() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == AuditAction.FILEREQUEST_UPLOAD)
        ).all()
    assert len(events) == 2
    with svc.db.read() as session:
        opened = session.scalars(
            select(AuditEvent).where(AuditEvent.action == AuditAction.LINK_OPEN)
        ).all()
    assert [json.loads(e.details) for e in opened] == [{"kind": "request"}]
    target = json.loads(events[0].target)
    assert set(target) == {"space", "node", "version", "link"}
    assert "bilan" not in events[0].target + events[0].details  # names stay sealed


def test_over_size_is_refused_before_anything_is_stored(
    svc: Services, alice: Principal, inbox: str
) -> None:
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = _request(
        svc, alice, recipients=[], require_verification=False, max_file_bytes=10, max_total_bytes=15
    )
    blobs = _blobs(svc)

    def never() -> Iterator[bytes]:
        raise AssertionError("the body was read")
        yield b""  # pragma: no cover

    with from_address():
        with pytest.raises(RequestTooLarge) as caught:
            svc.link_access.receive(token, None, "gros.pdf", never(), 11)
        assert "10 bytes at most" in str(caught.value)
        svc.link_access.receive(token, None, "a.pdf", [b"0123456789"], 10)
        with pytest.raises(RequestTooLarge) as caught:
            svc.link_access.receive(token, None, "b.pdf", never(), 6)  # 5 left in all
        assert "5 more bytes" in str(caught.value)
        svc.link_access.receive(token, None, "c.pdf", [b"01234"], 5)
        # Full: the request now answers like any closed link.
        with pytest.raises(LinkNotFound):
            svc.link_access.open(token, None)
    assert _names(svc, alice) == ["a.pdf", "bilan.pdf", "c.pdf"]
    assert _blobs(svc) == blobs + 2


def test_a_body_longer_than_announced_leaves_nothing(
    svc: Services, alice: Principal, inbox: str
) -> None:
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = _request(svc, alice, recipients=[], require_verification=False, max_total_bytes=100)
    blobs = _blobs(svc)
    with from_address(), pytest.raises(RequestTooLarge):
        svc.link_access.receive(token, None, "menteur.pdf", [b"x" * 8, b"x" * 8], 10)
    assert _names(svc, alice) == ["bilan.pdf"]
    assert _blobs(svc) == blobs
    with svc.db.read() as session:
        link = session.scalars(select(ShareLink)).one()
        assert (link.received_bytes, link.received_files) == (0, 0)  # reservation given back


def test_max_files(svc: Services, alice: Principal, inbox: str) -> None:
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = _request(svc, alice, recipients=[], require_verification=False, max_files=1)
    with from_address():
        assert svc.link_access.open(token, None).files_left == 1
        svc.link_access.receive(token, None, "un.pdf", [b"1"], 1)
        with pytest.raises(LinkNotFound):
            svc.link_access.receive(token, None, "deux.pdf", [b"2"], 1)


def test_revoked_expired_and_creator_without_access_answer_alike(
    svc: Services, alice: Principal, inbox: str, clock: ManualClock
) -> None:
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    revoked = svc.sharing.create_request(
        alice, "cardio", "/dupont", recipients=[], require_verification=False
    )
    svc.sharing.revoke_link(alice, revoked.link.id)
    lost = _request(svc, alice, recipients=[], require_verification=False)
    expiring = _request(
        svc,
        alice,
        recipients=[],
        require_verification=False,
        expires_at=clock.now() + dt.timedelta(hours=1),
    )
    with from_address():
        svc.link_access.receive(lost, None, "avant.pdf", [b"1"], 1)
    svc.spaces.revoke(SYSTEM, "cardio", "", "user:alice")  # alice loses the space
    clock.advance(hours=2)
    answers = set()
    with from_address("192.0.2.20"):
        for token in (revoked.token, lost, expiring, "x" * 43):
            with pytest.raises(LinkNotFound) as caught:
                svc.link_access.receive(token, None, "apres.pdf", [b"2"], 1)
            answers.add(str(caught.value))
    assert len(answers) == 1


def test_the_creator_losing_write_access_stops_uploads(
    svc: Services, alice: Principal, inbox: str
) -> None:
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = _request(svc, alice, recipients=[], require_verification=False)
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "reader")
    with from_address(), pytest.raises(LinkNotFound):
        svc.link_access.receive(token, None, "apres.pdf", [b"2"], 1)
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "contributor")
    with from_address():
        svc.link_access.receive(token, None, "apres.pdf", [b"2"], 1)


def test_guessing_is_throttled_as_for_links(svc: Services, alice: Principal, inbox: str) -> None:
    free = svc.settings.login_address_free_failures
    token = _request(svc, alice)
    with from_address("192.0.2.66"):
        for n in range(free + 1):
            with pytest.raises(LinkNotFound):
                svc.link_access.receive(f"guess-{n}", None, "a.pdf", [b"1"], 1)
        with pytest.raises(LinkThrottled):
            svc.link_access.open(token, None)


def test_a_request_goes_to_a_folder_with_sane_limits(
    svc: Services, alice: Principal, inbox: str
) -> None:
    with pytest.raises(InvalidLinkInput):
        svc.sharing.create_request(alice, "cardio", "/dupont/bilan.pdf", recipients=[LAB])
    with pytest.raises(InvalidLinkInput):
        svc.sharing.create_request(
            alice, "cardio", "/dupont", recipients=[LAB], max_file_bytes=10, max_total_bytes=5
        )
    created = svc.sharing.create_request(alice, "cardio", "/dupont", recipients=[LAB])
    default = svc.settings.file_request_max_bytes
    assert (created.link.kind, created.link.max_file_bytes, created.link.max_total_bytes) == (
        "request",
        default,
        default,
    )
    reader = svc.accounts.create_user(SYSTEM, "bob", password="un mot de passe assez long")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "reader")
    with pytest.raises(Exception, match="contributor"):
        svc.sharing.create_request(
            svc.accounts.principal_for(reader.id), "cardio", "/dupont", recipients=[LAB]
        )


def test_a_full_space_is_told_to_the_sender_without_its_quota(
    svc: Services, alice: Principal, inbox: str
) -> None:
    """The space's quota is the hospital's business: the sender hears that the file
    was not taken and whom to tell, never "quota" nor the advice meant for members."""
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = _request(svc, alice, recipients=[], require_verification=False)
    svc.spaces.set_quota(SYSTEM, "cardio", quota_bytes=40)
    blobs = _blobs(svc)
    with from_address(), pytest.raises(RequestFolderFull) as refused:
        svc.link_access.receive(token, None, "irm.pdf", [b"x" * 30], 30)
    assert "quota" not in str(refused.value).lower()
    assert _names(svc, alice) == ["bilan.pdf"]
    assert _blobs(svc) == blobs
    with from_address():  # its reservation was given back: a file that fits goes in
        svc.link_access.receive(token, None, "ordo.pdf", [b"x" * 5], 5)
    assert _names(svc, alice) == ["bilan.pdf", "ordo.pdf"]


def test_what_a_request_receives_never_gets_its_creator_contained(
    svc: Services, alice: Principal, inbox: str
) -> None:
    """Ransomware detection guards overwrites, renames and deletes, which a file request
    cannot do; scored as its creator, any holder of the link could lock her out."""
    assert svc.settings.ransomware_detection
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = _request(svc, alice, recipients=[], require_verification=False)
    with svc.db.read() as session:
        before = len(session.scalars(select(RansomwareEvent)).all())
    with from_address():
        for i in range(30):
            noise = os.urandom(4096)
            svc.link_access.receive(token, None, f"bilan.pdf.{i}.locked", [noise], len(noise))
            svc.link_access.receive(token, None, "LISEZ-MOI.txt", [b"payez"], 5)
    assert svc.incidents.list(SYSTEM) == []
    with svc.db.read() as session:  # nothing counted against anyone
        assert len(session.scalars(select(RansomwareEvent)).all()) == before
    svc.files.write(alice, "cardio", "/dupont/bilan.pdf", [b"alice travaille encore"])
