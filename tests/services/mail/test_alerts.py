"""Log-in alerts by e-mail (issue 5 item 5): a new device, a success after failures."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from egide.core.clock import ManualClock
from egide.core.db.models import User
from egide.core.errors import EgideError
from egide.services.accounts.errors import BadCredentials
from egide.services.audit.context import RequestContext, request_context
from egide.services.registry import Services
from tests.services.mail.helpers import rows
from tests.services.mail.smtp_server import SmtpServer
from tests.vault_fixtures import PASSWORD, SYSTEM

pytestmark = pytest.mark.db

FIREFOX_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
FIREFOX_WIN_NEWER = FIREFOX_WIN.replace("133.0", "134.0")
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)
HOME = "198.51.100.7"
ELSEWHERE = "203.0.113.99"


@pytest.fixture
def martin(svc: Services) -> str:
    svc.accounts.create_user(SYSTEM, "martin", password=PASSWORD, email="dr.martin@chu.example")
    return "martin"


def _login(svc: Services, address: str = HOME, agent: str = FIREFOX_WIN) -> str:
    return svc.sessions.login("martin", PASSWORD, client_address=address, user_agent=agent)[
        1
    ].cookie


def _kinds(svc: Services) -> list[str]:
    return [r.kind for r in rows(svc)]


def test_first_session_and_known_device_send_nothing(svc: Services, martin: str) -> None:
    _login(svc)  # the very first: nothing to compare with
    _login(svc, agent=FIREFOX_WIN_NEWER)  # same browser family, same address
    assert _kinds(svc) == []


def test_a_new_address_sends_an_alert_in_french(
    svc: Services, martin: str, smtp: SmtpServer, clock: ManualClock
) -> None:
    _login(svc)
    clock.advance(hours=2)
    cookie = _login(svc, address=ELSEWHERE)
    assert _kinds(svc) == ["login-new-device"]
    assert svc.mail.send_pending().sent == 1
    (got,) = smtp.received
    assert got.rcpt_tos == ["dr.martin@chu.example"]
    assert got.message["Subject"] == "Égide : connexion depuis un nouvel appareil"
    assert got.message["Content-Language"] == "fr"
    body = got.message.get_content()
    assert ELSEWHERE in body
    assert "Firefox (Windows)" in body
    assert "2 mars 2026 à 12:00 (Europe/Paris)" in body  # 11:00 UTC
    assert "Si ce n'était pas vous" in body
    assert "https://egide.hopital.example" in body
    # No secret in a mail: not the cookie, not its secret, not the password.
    for secret in (cookie, cookie.partition(".")[2], PASSWORD):
        assert secret not in got.raw.decode("utf-8", "replace")


def test_a_new_browser_family_sends_an_alert(svc: Services, martin: str) -> None:
    _login(svc)
    _login(svc, agent=CHROME_MAC)
    assert _kinds(svc) == ["login-new-device"]
    assert "Chrome (macOS)" in rows(svc)[0].body_text


def test_a_device_unseen_for_90_days_is_new_again(
    svc: Services, martin: str, clock: ManualClock
) -> None:
    _login(svc)
    _login(svc, address=ELSEWHERE)
    clock.advance(days=91)
    _login(svc)
    assert _kinds(svc) == ["login-new-device", "login-new-device"]


def test_english_when_the_user_asks(svc: Services, martin: str, smtp: SmtpServer) -> None:
    svc.mail.set_language(SYSTEM, "martin", "en")
    _login(svc)
    _login(svc, address=ELSEWHERE)
    svc.mail.send_pending()
    (got,) = smtp.received
    assert got.message["Subject"] == "Égide: sign-in from a new device"
    assert got.message["Content-Language"] == "en"
    body = got.message.get_content()
    assert "If it was not you" in body
    assert "March 2, 2026 at 10:00 (Europe/Paris)" in body


def test_the_setting_language_by_default(svc: Services, martin: str) -> None:
    svc.mail.set_language(SYSTEM, "martin", None)
    _login(svc)
    _login(svc, address=ELSEWHERE)
    assert rows(svc)[0].language == svc.settings.language == "fr"


def test_no_address_no_alert(svc: Services) -> None:
    svc.accounts.create_user(SYSTEM, "martin", password=PASSWORD)
    _login(svc)
    _login(svc, address=ELSEWHERE)
    assert _kinds(svc) == []


def test_an_unusable_stored_address_does_not_block_the_log_in(svc: Services, martin: str) -> None:
    with svc.db.write() as session:
        session.execute(
            update(User).where(User.username == "martin").values(email="a@b.c\r\nBcc: x@y.z")
        )
    _login(svc)
    assert _login(svc, address=ELSEWHERE)
    assert _kinds(svc) == []


def _fail(svc: Services, times: int) -> None:
    for _ in range(times):
        with pytest.raises(BadCredentials):
            svc.accounts.authenticate("martin", "not the right passphrase")


def test_a_success_after_failures_sends_an_alert_once(
    svc: Services, martin: str, smtp: SmtpServer
) -> None:
    context = RequestContext(client_address=ELSEWHERE, user_agent=CHROME_MAC, channel="session")
    with request_context(context):
        _login(svc, address=ELSEWHERE, agent=CHROME_MAC)  # first session: no new-device mail
        _fail(svc, 2)
        _login(svc, address=ELSEWHERE, agent=CHROME_MAC)
        _login(svc, address=ELSEWHERE, agent=CHROME_MAC)  # the counter is clear: no mail
    assert _kinds(svc) == ["login-after-failures"]
    svc.mail.send_pending()
    (got,) = smtp.received
    assert got.message["Subject"] == "Égide : connexion après des tentatives échouées"
    body = got.message.get_content()
    assert "après 2 tentative(s) échouée(s)" in body
    assert "ralenti" not in body
    assert ELSEWHERE in body
    assert "Chrome (macOS)" in body


def test_a_success_after_throttling_says_so(svc: Services, martin: str, clock: ManualClock) -> None:
    _login(svc)
    _fail(svc, svc.settings.login_free_failures + 1)
    with pytest.raises(EgideError):
        svc.accounts.authenticate("martin", PASSWORD)  # throttled, unjudged
    clock.advance(minutes=20)
    _login(svc)
    (mail,) = rows(svc)
    assert mail.kind == "login-after-failures"
    assert f"après {svc.settings.login_free_failures + 1} tentative(s)" in mail.body_text
    assert "le compte a été temporairement ralenti" in mail.body_text
    assert "inconnu(e)" in mail.body_text  # at the command line: no address, no browser


def test_set_language_checks_its_input_and_rights(svc: Services, martin: str) -> None:
    with pytest.raises(EgideError):
        svc.mail.set_language(SYSTEM, "martin", "de")
    other = svc.accounts.create_user(SYSTEM, "bob", password=PASSWORD)
    bob = svc.accounts.principal_for(other.id)
    with pytest.raises(EgideError):
        svc.mail.set_language(bob, "martin", "en")
    svc.mail.set_language(bob, "bob", "en")  # one's own
