"""Notifications derived from the audit log (issue 7 item 5, ADR 26), mailed through a
real SMTP server: who is told, who is not, in which language, with what in the mail."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select

from egide.core.clock import ManualClock
from egide.core.db.models import AuditCursor, Follow, Notification, OutboxMail
from egide.core.errors import EgideError
from egide.services.access.policy import Principal
from egide.services.notifications.derive import CURSOR, _Pass
from egide.services.notifications.errors import CannotFollowFile
from egide.services.registry import Services
from tests.mail_fixtures import PUBLIC_URL
from tests.services.mail.smtp_server import SmtpServer
from tests.services.sharing.helpers import from_address
from tests.vault_fixtures import PASSWORD, SYSTEM

pytestmark = pytest.mark.db

SECRET_NAME = "Dupont Jeanne - IRM.pdf"


def notify(svc: Services) -> int:
    """What the workers do: sequence the log, derive the notifications."""
    svc.audit.sequencer.run_pending()
    return svc.notifications.deriver.run_pending()


def notes(svc: Services, user: Principal) -> list[Notification]:
    with svc.db.read() as session:
        return list(
            session.scalars(
                select(Notification)
                .where(Notification.user_id == user.user_id)
                .order_by(Notification.seq, Notification.id)
            )
        )


def mails(svc: Services) -> list[OutboxMail]:
    with svc.db.read() as session:
        return list(
            session.scalars(
                select(OutboxMail)
                .where(OutboxMail.kind.startswith("notification"))
                .order_by(OutboxMail.created_at, OutboxMail.id)
            )
        )


def test_a_follower_is_told_at_once_in_french_without_the_name(
    svc: Services, alice: Principal, bob: Principal, smtp: SmtpServer
) -> None:
    svc.files.write(alice, "cardio", f"Patients/{SECRET_NAME}", [b"compte rendu"])
    assert notify(svc) == 1
    (note,) = notes(svc, bob)
    assert note.kind == "file_added"
    assert notes(svc, alice) == []  # the actor is not told of their own change
    assert svc.mail.send_pending().sent == 1
    (got,) = smtp.received
    assert got.rcpt_tos == ["dr.bob@chu.example"]
    assert got.message["Subject"] == "Égide : 1 nouvelle(s) notification(s)"
    assert got.message["Content-Language"] == "fr"
    body = got.message.get_content()
    assert "1 fichier(s) ajouté(s)" in body
    assert f"{PUBLIC_URL}/notifications" in body
    assert "Mode discret" in body
    raw = got.raw.decode("utf-8", "replace")
    for leak in ("Dupont", "IRM", "Patients", "cardio/"):
        assert leak not in raw  # privacy mode: no name, no path, not even encoded


def test_an_update_in_english_with_privacy_off_names_the_file_in_the_body_only(
    svc: Services, alice: Principal, bob: Principal, smtp: SmtpServer
) -> None:
    svc.files.write(alice, "cardio", "Patients/cr.txt", [b"v1"])
    notify(svc)
    svc.mail.set_language(SYSTEM, "bob", "en")
    prefs = svc.notifications.set_preferences(bob, privacy=False)
    assert (prefs.email, prefs.privacy) == ("immediate", False)
    svc.files.write(alice, "cardio", "Patients/cr.txt", [b"v2"])
    notify(svc)
    assert [n.kind for n in notes(svc, bob)] == ["file_added", "file_updated"]
    assert svc.mail.send_pending().sent == 2
    (got,) = [r for r in smtp.received if r.message["Content-Language"] == "en"]
    assert got.message["Subject"] == "Égide: 1 new notification(s)"
    assert "cr.txt" not in got.message["Subject"]
    assert got.message["Content-Language"] == "en"
    body = got.message.get_content()
    assert "1 file(s) updated" in body
    assert "Updated: cardio/Patients/cr.txt (by alice)" in body


def test_one_pass_gives_one_mail_per_user(
    svc: Services, alice: Principal, bob: Principal, smtp: SmtpServer
) -> None:
    for i in range(5):
        svc.files.write(alice, "cardio", f"Patients/{i}.dcm", [b"x"])
    assert notify(svc) == 5
    assert len(mails(svc)) == 1
    assert "5 fichier(s) ajouté(s)" in mails(svc)[0].body_text


def test_a_follower_who_lost_access_gets_nothing(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    svc.spaces.revoke(SYSTEM, "cardio", "", "user:bob")
    svc.files.write(alice, "cardio", "Patients/secret.pdf", [b"x"])
    notify(svc)
    assert notes(svc, bob) == []
    assert mails(svc) == []
    # ... and what they followed is no longer listed.
    assert svc.notifications.follows(bob) == []


def test_a_file_elsewhere_notifies_nobody(svc: Services, alice: Principal, bob: Principal) -> None:
    svc.nodes.mkdir(alice, "cardio", "Autre")
    svc.files.write(alice, "cardio", "Autre/x.pdf", [b"x"])
    notify(svc)
    assert notes(svc, bob) == []


def test_deletes_and_shares_notify(svc: Services, alice: Principal, bob: Principal) -> None:
    svc.files.write(alice, "cardio", "Patients/a.pdf", [b"x"])
    notify(svc)  # once in the trash, the file itself is no longer readable: told before
    svc.nodes.delete(alice, "cardio", "Patients/a.pdf")
    svc.spaces.create(SYSTEM, "neuro", title="Neurologie")
    svc.accounts.create_group(SYSTEM, "internes")
    svc.accounts.add_member(SYSTEM, "internes", "bob")
    svc.spaces.grant(SYSTEM, "neuro", "", "group:internes", "reader")
    notify(svc)
    # (one instant on the test clock: the log orders these by id, so compare as sets)
    assert sorted(n.kind for n in notes(svc, bob)) == ["deleted", "file_added", "shared"]
    page = svc.notifications.notifications(bob)
    assert page.unread == 3
    by_kind = {item.kind: item for item in page.items}
    assert by_kind["deleted"].path == "/Patients/a.pdf"
    assert by_kind["shared"].space == "neuro"


def test_a_crash_before_the_commit_writes_nothing_and_the_next_pass_writes_once(
    svc: Services, alice: Principal, bob: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc.files.write(alice, "cardio", "Patients/a.pdf", [b"x"])
    svc.audit.sequencer.run_pending()
    deriver = svc.notifications.deriver
    real = deriver.enqueue
    with svc.db.read() as session:
        before = session.get(AuditCursor, CURSOR)
        start = None if before is None else before.next_seq

    def crash(*args: object, **kwargs: object) -> bool:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("the process dies after enqueueing, before the commit")

    monkeypatch.setattr(deriver, "enqueue", crash)
    with pytest.raises(RuntimeError):
        deriver.run_pass()
    assert notes(svc, bob) == []
    assert mails(svc) == []
    with svc.db.read() as session:
        cursor = session.get(AuditCursor, CURSOR)
        assert (None if cursor is None else cursor.next_seq) == start
    monkeypatch.undo()
    assert deriver.run_pending() == 1
    assert deriver.run_pending() == 0  # the cursor moved with the rows
    assert len(notes(svc, bob)) == 1
    assert len(mails(svc)) == 1


def test_hourly_digest_is_sent_once_per_period(
    svc: Services,
    alice: Principal,
    bob: Principal,
    *,
    smtp: SmtpServer,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    svc.notifications.set_preferences(bob, email="hourly")
    svc.files.write(alice, "cardio", "Patients/a.pdf", [b"x"])
    svc.files.write(alice, "cardio", "Patients/b.pdf", [b"x"])
    notify(svc)
    assert mails(svc) == []  # not at once
    digests = svc.notifications.digests
    assert digests.run_pass() == 0  # the hour is not over
    clock.advance(hours=1)
    # A crash after the digest's mail was enqueued, before the commit: nothing remains.
    real = svc.notifications.deriver.enqueue

    def crash(*args: object, **kwargs: object) -> bool:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("dies before the commit")

    monkeypatch.setattr(svc.notifications.deriver, "enqueue", crash)
    with pytest.raises(RuntimeError):
        digests.run_pass()
    assert mails(svc) == []
    monkeypatch.undo()
    assert digests.run_pass() == 1
    assert digests.run_pass() == 0  # the same period is never mailed twice
    assert svc.mail.send_pending().sent == 1
    (got,) = smtp.received
    assert got.message["Subject"] == "Égide : votre résumé de l'heure (2 notification(s))"
    assert "2 fichier(s) ajouté(s)" in got.message.get_content()
    assert all(n.mailed_at is not None for n in notes(svc, bob))


def test_daily_digest_and_off(
    svc: Services, alice: Principal, bob: Principal, clock: ManualClock
) -> None:
    svc.notifications.set_preferences(bob, email="daily")
    svc.files.write(alice, "cardio", "Patients/a.pdf", [b"x"])
    notify(svc)
    clock.advance(hours=6)
    assert svc.notifications.digests.run_pass() == 0  # 15:00 in Paris: the day goes on
    clock.advance(hours=10)  # past midnight in Paris
    assert svc.notifications.digests.run_pass() == 1
    assert "résumé du jour" in mails(svc)[0].subject
    svc.notifications.set_preferences(bob, email="off")
    svc.files.write(alice, "cardio", "Patients/b.pdf", [b"x"])
    notify(svc)
    clock.advance(days=1)
    assert svc.notifications.digests.run_pass() == 0
    assert len(mails(svc)) == 1
    assert len(notes(svc, bob)) == 2  # still in the in-app list


def test_mark_read_and_unread_filter(svc: Services, alice: Principal, bob: Principal) -> None:
    for name in ("a", "b", "c"):
        svc.files.write(alice, "cardio", f"Patients/{name}.pdf", [b"x"])
    notify(svc)
    page = svc.notifications.notifications(bob, limit=2)
    assert (len(page.items), page.next_offset, page.unread) == (2, 2, 3)
    assert svc.notifications.mark_read(bob, [page.items[0].id]) == 1
    assert svc.notifications.notifications(bob, unread_only=True).unread == 2
    assert svc.notifications.mark_read(alice, None) == 0  # not alice's
    assert svc.notifications.mark_read(bob, None) == 2
    assert svc.notifications.notifications(bob, unread_only=True).items == []


def test_follows(svc: Services, alice: Principal, bob: Principal) -> None:
    svc.files.write(alice, "cardio", "Patients/a.pdf", [b"x"])
    with pytest.raises(CannotFollowFile):
        svc.notifications.follow(bob, "cardio", "Patients/a.pdf")
    svc.notifications.follow(bob, "cardio", "")
    svc.notifications.follow(bob, "cardio", "")  # twice: no change
    assert sorted(f.path for f in svc.notifications.follows(bob)) == ["/", "/Patients"]
    assert svc.notifications.unfollow(bob, "cardio", "Patients") is True
    assert svc.notifications.unfollow(bob, "cardio", "Patients") is False
    svc.accounts.create_user(SYSTEM, "eve", password=PASSWORD)
    eve = svc.accounts.principal_for_username("eve")
    with pytest.raises(EgideError) as refused:
        svc.notifications.follow(eve, "cardio", "Patients")
    assert refused.value.kind == "not_found"  # existence does not leak


def test_a_link_opened_tells_its_creator(svc: Services, alice: Principal, bob: Principal) -> None:
    svc.files.write(alice, "cardio", "Patients/a.pdf", [b"x"])
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    created = svc.sharing.create_link(
        alice, "cardio", "Patients/a.pdf", recipients=[], require_verification=False
    )
    with from_address():
        svc.link_access.open(created.token, None)
    notify(svc)
    assert [n.kind for n in notes(svc, alice)] == ["link_opened"]
    assert [n.kind for n in notes(svc, bob)] == ["file_added"]


def test_a_file_request_upload_tells_its_creator_and_the_followers_once(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = svc.sharing.create_request(
        alice, "cardio", "Patients", recipients=[], require_verification=False
    ).token
    with from_address():
        svc.link_access.receive(token, None, "resultats.pdf", [b"1"], 1)
    notify(svc)
    # The upload is both a file.write (acting as alice) and a filerequest.upload entry:
    # each person is told once, as a file received through the request.
    assert [n.kind for n in notes(svc, alice)] == ["request_received"]
    assert [n.kind for n in notes(svc, bob)] == ["request_received"]


def test_the_batched_access_check_agrees_with_effective_role(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    """`_readers` (one grants query for many users) decides as `may_read` (one
    `grants.effective_role` each): by user, by group, on a folder, on a file."""
    svc.nodes.mkdir(alice, "cardio", "Patients/Dupont")
    svc.files.write(alice, "cardio", "Patients/Dupont/irm.pdf", [b"x"])
    names = ["carol", "dave", "erin", "frank"]
    for name in names:
        svc.accounts.create_user(SYSTEM, name, password=PASSWORD)
    svc.accounts.create_group(SYSTEM, "internes")
    svc.accounts.add_member(SYSTEM, "internes", "dave")
    svc.spaces.grant(SYSTEM, "cardio", "Patients", "user:carol", "reader")
    svc.spaces.grant(SYSTEM, "cardio", "Patients/Dupont", "group:internes", "reader")
    svc.spaces.grant(SYSTEM, "cardio", "Patients/Dupont/irm.pdf", "user:erin", "reader")
    svc.accounts.disable_user(SYSTEM, "carol")
    users = [svc.accounts.get_user(SYSTEM, n).id for n in names]
    users += [str(alice.user_id), str(bob.user_id)]
    deriver = svc.notifications.deriver
    tree = svc.notifications.tree
    with svc.db.read() as session:
        space = tree.space_by_slug(session, "cardio")
        assert space is not None
        for path in ("Patients", "Patients/Dupont", "Patients/Dupont/irm.pdf"):
            node, rest = tree.resolve_deepest(session, space, path.split("/"))
            assert rest == []
            batched = deriver._readers(session, node.id, users, _Pass())
            one_by_one = {u for u in users if deriver.may_read(session, u, node.id)}
            assert batched == one_by_one, path
    assert len(one_by_one) == 4  # alice, bob (space), dave (group), erin (the file)


def test_what_one_can_no_longer_see_is_listed_without_a_path(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    svc.files.write(alice, "cardio", "Patients/a.pdf", [b"x"])
    notify(svc)
    (item,) = svc.notifications.notifications(bob).items
    assert (item.space, item.path, item.actor) == ("cardio", "/Patients/a.pdf", "alice")
    svc.spaces.revoke(SYSTEM, "cardio", "", "user:bob")
    (item,) = svc.notifications.notifications(bob).items
    assert (item.kind, item.space, item.path, item.actor) == ("file_added", None, None, None)


def test_a_followed_folder_deleted_then_purged(
    svc: Services, alice: Principal, bob: Principal, clock: ManualClock
) -> None:
    svc.nodes.delete(alice, "cardio", "Patients")
    notify(svc)  # bob follows the folder itself: told it went to the trash
    assert [n.kind for n in notes(svc, bob)] == ["deleted"]
    (item,) = svc.notifications.notifications(bob).items
    assert item.path == "/Patients"
    with svc.db.write() as session:
        session.execute(delete(Notification))
    clock.advance(days=31)
    assert svc.maintenance.gc(SYSTEM, grace=dt.timedelta(0)).trash_purged == 1
    with svc.db.read() as session:
        assert list(session.scalars(select(Follow))) == []
    notify(svc)  # the deletion's entry names a node that no longer exists: nothing, no error
    assert notes(svc, bob) == []
