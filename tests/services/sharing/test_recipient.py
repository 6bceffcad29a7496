"""Opening a link without an account: password, mailed code, downloads, limits (issue 7)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest

from egide.core.clock import ManualClock
from egide.services.access.policy import Principal
from egide.services.registry import Services
from egide.services.sharing.errors import (
    LinkCodeWrong,
    LinkLocked,
    LinkNotFound,
    LinkPasswordWrong,
    LinkThrottled,
)
from egide.services.sharing.zipstream import zip_stream
from tests.services.mail.smtp_server import SmtpServer
from tests.services.sharing.helpers import from_address, mailed_code
from tests.vault_fixtures import SYSTEM

pytestmark = pytest.mark.db

DURAND = "dr.durand@clinique.example"
LINK_PASSWORD = "sept chevaux bleus au galop"


def _link(svc: Services, alice: Principal, path: str = "/echo.pdf", **options: object) -> str:
    options.setdefault("recipients", [DURAND])
    return svc.sharing.create_link(alice, "cardio", path, **options).token  # type: ignore[arg-type]


@pytest.fixture
def echo(svc: Services, alice: Principal) -> bytes:
    data = bytes(range(256)) * 64  # several segments
    svc.files.write(alice, "cardio", "/echo.pdf", [data])
    return data


def _verified(svc: Services, smtp: SmtpServer, token: str, cookie: str | None = None) -> str:
    svc.link_access.send_code(token, cookie, DURAND)
    code = mailed_code(svc, smtp, DURAND)
    return svc.link_access.confirm_code(token, cookie, DURAND, code).cookie


def test_password_then_code_then_download(
    svc: Services, alice: Principal, echo: bytes, smtp: SmtpServer
) -> None:
    token = _link(svc, alice, password=LINK_PASSWORD, max_downloads=2)
    with from_address():
        assert svc.link_access.open(token, None).needs == ("password", "verification")
        with pytest.raises(LinkLocked):
            svc.link_access.send_code(token, None, DURAND)  # no code before the password
        with pytest.raises(LinkPasswordWrong):
            svc.link_access.give_password(token, None, "pas le bon mot de passe")
        first = svc.link_access.give_password(token, None, LINK_PASSWORD)
        assert first.view.needs == ("verification",)
        with pytest.raises(LinkLocked):
            svc.link_access.download(token, first.cookie, "")

        svc.link_access.send_code(token, first.cookie, "someone.else@clinique.example")
        svc.mail.send_pending()
        assert smtp.received == []  # not a recipient: nothing sent, same answer
        svc.link_access.send_code(token, first.cookie, DURAND)
        code = mailed_code(svc, smtp, DURAND)
        with pytest.raises(LinkCodeWrong):
            svc.link_access.confirm_code(
                token, first.cookie, DURAND, f"{(int(code) + 1) % 10**6:06d}"
            )
        second = svc.link_access.confirm_code(token, first.cookie, DURAND, code)
        assert second.view.needs == ()

        view = svc.link_access.open(token, second.cookie)
        assert (view.kind, view.name, view.sender, view.downloads_left) == (
            "file",
            "echo.pdf",
            "alice",
            2,
        )
        assert [(f.path, f.size) for f in view.files] == [("echo.pdf", len(echo))]
        assert view.verified_email == DURAND
        # The session before the code was replaced, not upgraded (no fixation).
        assert svc.link_access.open(token, first.cookie).needs == ("password", "verification")

        for _ in range(2):
            got = svc.link_access.download(token, second.cookie, "echo.pdf")
            assert b"".join(got.file.iter_bytes()) == echo
        with pytest.raises(LinkNotFound):  # exhausted: the neutral answer
            svc.link_access.download(token, second.cookie, "echo.pdf")
        with pytest.raises(LinkNotFound):
            svc.link_access.open(token, second.cookie)


def test_the_code_mail_names_the_sender_and_the_kind_never_the_file(
    svc: Services, alice: Principal, echo: bytes, smtp: SmtpServer
) -> None:
    token = _link(svc, alice)
    with from_address():
        svc.link_access.send_code(token, None, DURAND, language="en")
    svc.mail.send_pending()
    (mail,) = smtp.received
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "alice sent you a document" in text
    assert "echo" not in text
    assert token not in text
    assert token not in str(mail.message)
    assert mail.message["Subject"] == "Égide: your code to open a share"
    assert mail.rcpt_tos == [DURAND]


def test_a_code_lasts_ten_minutes_and_five_tries(
    svc: Services, alice: Principal, echo: bytes, smtp: SmtpServer, clock: ManualClock
) -> None:
    token = _link(svc, alice)
    with from_address():
        svc.link_access.send_code(token, None, DURAND)
        code = mailed_code(svc, smtp, DURAND)
        clock.advance(minutes=10, seconds=1)
        with pytest.raises(LinkCodeWrong):
            svc.link_access.confirm_code(token, None, DURAND, code)

        svc.link_access.send_code(token, None, DURAND)
        code = mailed_code(svc, smtp, DURAND)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        for _ in range(5):
            with pytest.raises((LinkCodeWrong, LinkThrottled)):
                svc.link_access.confirm_code(token, None, DURAND, wrong)
        clock.advance(minutes=1)  # past any back-off: the code itself is used up
        with pytest.raises((LinkCodeWrong, LinkThrottled)):
            svc.link_access.confirm_code(token, None, DURAND, code)


def test_wrong_passwords_are_throttled_per_link(
    svc: Services, alice: Principal, echo: bytes
) -> None:
    token = _link(svc, alice, password=LINK_PASSWORD)
    free = svc.settings.login_free_failures
    for n in range(free):
        with from_address(f"198.51.100.{n}"), pytest.raises(LinkPasswordWrong):
            svc.link_access.give_password(token, None, "un mauvais mot de passe")
    with from_address("198.51.100.200"), pytest.raises(LinkPasswordWrong):
        svc.link_access.give_password(token, None, "un mauvais mot de passe")
    # Past the free failures: refused unjudged, from any address, even the right password.
    with from_address("203.0.113.9"), pytest.raises(LinkThrottled):
        svc.link_access.give_password(token, None, LINK_PASSWORD)


def test_guessing_tokens_is_throttled_per_address(
    svc: Services, alice: Principal, echo: bytes
) -> None:
    token = _link(svc, alice)
    free = svc.settings.login_address_free_failures
    with from_address("192.0.2.66"):
        for n in range(free + 1):
            with pytest.raises(LinkNotFound):
                svc.link_access.open(f"guess-{n}", None)
        with pytest.raises(LinkThrottled):
            svc.link_access.open(token, None)  # even a real token, so nothing is told
    with from_address("192.0.2.67"):
        assert svc.link_access.open(token, None).needs == ("verification",)


def test_expired_revoked_and_unknown_links_answer_alike(
    svc: Services, alice: Principal, echo: bytes, smtp: SmtpServer, clock: ManualClock
) -> None:
    expiring = _link(svc, alice, expires_at=clock.now() + dt.timedelta(hours=1))
    revoked = svc.sharing.create_link(alice, "cardio", "/echo.pdf", recipients=[DURAND])
    with from_address():
        cookie = _verified(svc, smtp, revoked.token)
        assert svc.link_access.open(revoked.token, cookie).needs == ()
        svc.sharing.revoke_link(alice, revoked.link.id)
        clock.advance(hours=2)
        answers = []
        for token in (expiring, revoked.token, "x" * 43):
            with pytest.raises(LinkNotFound) as caught:
                svc.link_access.open(token, cookie)
            answers.append(str(caught.value))
        assert len(set(answers)) == 1


def test_a_deleted_file_closes_its_link(svc: Services, alice: Principal, echo: bytes) -> None:
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = _link(svc, alice, require_verification=False, recipients=[])
    with from_address():
        assert svc.link_access.open(token, None).needs == ()
        svc.nodes.delete(alice, "cardio", "/echo.pdf")
        with pytest.raises(LinkNotFound):
            svc.link_access.open(token, None)


def test_a_folder_link_lists_and_zips_its_files(
    svc: Services, alice: Principal, smtp: SmtpServer
) -> None:
    files = {
        "dupont/echo.pdf": b"echo" * 5000,
        "dupont/irm/coupe 1.dcm": bytes(range(256)) * 100,
        "dupont/irm/coupe 2.dcm": b"",
        "dupont/compte rendu é.txt": "résumé".encode(),
    }
    svc.nodes.mkdir(alice, "cardio", "/dupont/irm", parents=True)
    for path, data in files.items():
        svc.files.write(alice, "cardio", "/" + path, [data])
    token = _link(svc, alice, "/dupont")
    with from_address():
        cookie = _verified(svc, smtp, token)
        view = svc.link_access.open(token, cookie)
        expected = {p.removeprefix("dupont/"): d for p, d in files.items()}
        assert view.kind == "folder"
        assert view.name == "dupont"
        assert {f.path: f.size for f in view.files} == {p: len(d) for p, d in expected.items()}
        got = svc.link_access.download(token, cookie, "irm/coupe 1.dcm")
        assert b"".join(got.file.iter_bytes()) == expected["irm/coupe 1.dcm"]

        archive = svc.link_access.zip(token, cookie)
    assert archive.name == "dupont"
    body = b"".join(zip_stream(archive.entries))
    with zipfile.ZipFile(io.BytesIO(body)) as opened:
        assert opened.testzip() is None
        assert {name: opened.read(name) for name in opened.namelist()} == expected
