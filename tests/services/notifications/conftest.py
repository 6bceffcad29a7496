"""Fixtures of the notification tests: a vault sending through a real SMTP server
(aiosmtpd on 127.0.0.1, the `smtp` of tests/mail_fixtures.py), with a contributor (alice)
and a reader who follows (bob)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from egide.core.config import Settings
from egide.core.db.models import Notification, OutboxMail
from egide.services.access.policy import Principal
from egide.services.registry import Services
from tests.mail_fixtures import SENDER, mailing_settings
from tests.services.mail.smtp_server import SmtpServer
from tests.vault_fixtures import PASSWORD, SYSTEM


@pytest.fixture
def vault_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return mailing_settings(settings, smtp, smtp_from=SENDER, language="fr")


@pytest.fixture
def bob(svc: Services, alice: Principal) -> Principal:
    """A reader of `cardio` with an e-mail address, following the folder `Patients`."""
    svc.accounts.create_user(SYSTEM, "bob", password=PASSWORD, email="dr.bob@chu.example")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "reader")
    svc.nodes.mkdir(alice, "cardio", "Patients")
    principal = svc.accounts.principal_for_username("bob")
    svc.notifications.follow(principal, "cardio", "Patients")
    # Being made a member of the space is itself news ("shared with you"): told, then
    # cleared, so each test starts from an empty list and an empty outbox.
    svc.audit.sequencer.run_pending()
    svc.notifications.deriver.run_pending()
    with svc.db.write() as session:
        kinds = {(n.user_id, n.kind) for n in session.scalars(select(Notification))}
        assert kinds == {(principal.user_id, "shared"), (alice.user_id, "shared")}
        session.execute(delete(Notification))
        session.execute(delete(OutboxMail))
    return principal
