"""Log-in alerts (issue 5 item 5): a mail to the user after a sign-in from a new
device, and after a sign-in that followed failed attempts.

Both are enqueued in the transaction of the event that causes them, so an
alert exists exactly when its event does:

- **New device**: in the transaction that opens the web session and writes
  its `session.login` entry (`SessionService._open`). The device counts as
  seen when one of the user's other web sessions begun in the last
  `NEW_DEVICE_WINDOW` (90 days) came from the same client address with the
  same browser family (`templates.browser_family`: browser and system, no
  version). A user's very first session alerts nobody (nothing to compare
  with). Renewed sessions (after a second factor, a password change) come
  from the session they replace, so they never alert.
- **After failures**: in the transaction that clears the account's
  failure counter on the first success after failed passwords or codes
  (`LoginThrottler.record_success`), naming how many failures and whether the
  account was slowed down. Its key is the counter's last failure: the same
  streak never alerts twice.

A user without an e-mail address gets no alert. An alert names the time,
the client address and the browser family, and says what to do if it was
not the user; never a secret, a token or a file name.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from egide.core.clock import Clock, SystemClock
from egide.core.db.models import LoginThrottle, User, UserRole, WebSession
from egide.services.access.policy import GlobalRole
from egide.services.audit.context import current_request
from egide.services.mail import templates
from egide.services.mail.errors import InvalidMailAddress
from egide.services.mail.outbox import Outbox

log = logging.getLogger("egide.mail")


def alert_security_officers(
    outbox: Outbox,
    session: Session,
    *,
    kind: str,
    key: str,
    text: Callable[[str], tuple[str, str]],
    default_language: str,
) -> None:
    """One mail per enabled administrator and security officer with an address, in
    the caller's transaction: `text(language)` gives (subject, body), which hold ids
    and counts only (no file name, path or content); `key` makes each idempotent."""
    rows = session.execute(
        select(User.id, User.email, User.language)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            UserRole.role.in_([str(GlobalRole.ADMIN), str(GlobalRole.SECURITY)]),
            User.email.is_not(None),
            User.is_disabled.is_(False),
        )
        .distinct()
    ).all()
    for user_id, email, language in rows:
        if email is None:  # pragma: no cover - filtered by the query
            continue
        lang = language or default_language
        subject, body = text(lang)
        outbox.enqueue(
            session,
            idempotency_key=f"{key}:{user_id}",
            recipient=email,
            kind=kind,
            subject=subject,
            body_text=body,
            user_id=user_id,
            language=lang,
        )


#: A device is new when not seen in the user's sessions of this long.
NEW_DEVICE_WINDOW: Final = dt.timedelta(days=90)
#: The most earlier sessions from the same address looked at (bounds the check).
_MAX_SEEN: Final = 1000
_UNSAFE: Final = re.compile(r"[^0-9A-Za-z.:%\[\]-]")


class LoginAlerts:
    """Decides and writes the log-in alerts; called by the sessions and accounts services."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        public_url: str,
        language: str = "fr",
        timezone: str = "Europe/Paris",
        clock: Clock | None = None,
    ) -> None:
        self.outbox = outbox
        self.public_url = public_url
        self.language = language
        self.timezone = timezone
        self.clock = clock or SystemClock()

    def session_opened(self, session: Session, row: WebSession) -> bool:
        """Enqueue the new-device alert for the web session `row` (just added to
        `session`) when its device is new; True if one was enqueued."""
        user = session.get(User, row.user_id)
        if user is None or not user.email:
            return False
        others = session.scalars(
            select(WebSession.id)
            .where(WebSession.user_id == row.user_id, WebSession.id != row.id)
            .limit(1)
        ).first()
        if others is None:
            return False  # the user's first session: nothing to compare with
        family = templates.browser_family(row.user_agent)
        seen = session.execute(
            select(WebSession.user_agent)
            .where(
                WebSession.user_id == row.user_id,
                WebSession.id != row.id,
                WebSession.client_address == row.client_address,
                WebSession.created_at >= row.created_at - NEW_DEVICE_WINDOW,
            )
            .limit(_MAX_SEEN)
        ).scalars()
        if any(templates.browser_family(ua) == family for ua in seen):
            return False
        return self._enqueue(
            session,
            user,
            kind="login-new-device",
            key=f"login-new-device.{row.id}",
            address=row.client_address,
            browser=family,
            when=row.created_at,
            days=NEW_DEVICE_WINDOW.days,
        )

    def failures_cleared(self, session: Session, account_key: str, counter: LoginThrottle) -> bool:
        """Enqueue the after-failures alert as `counter` (the account's, holding failures) is
        cleared by a success, in the same transaction; True if one was enqueued."""
        user_id = account_key.removeprefix("user:")
        user = session.get(User, user_id)
        if user is None or not user.email or counter.failures <= 0:
            return False
        request = current_request()
        stamp = int(counter.last_failure_at.timestamp() * 1_000_000)
        return self._enqueue(
            session,
            user,
            kind="login-after-failures",
            key=f"login-after-failures.{user.id}.{stamp}",
            address=None if request is None else request.client_address,
            browser=templates.browser_family(
                "" if request is None or request.user_agent is None else request.user_agent
            ),
            when=self.clock.now(),
            failures=counter.failures,
            throttled=counter.blocked_until is not None,
        )

    def _enqueue(
        self,
        session: Session,
        user: User,
        *,
        kind: str,
        key: str,
        address: str | None,
        browser: str,
        when: dt.datetime,
        **values: object,
    ) -> bool:
        language = user.language if user.language in templates.LANGUAGES else self.language
        text = templates.render(
            kind,
            language,
            url=self.public_url,
            alert=True,
            time=templates.format_time(when, language, self.timezone),
            address=_UNSAFE.sub("", address or "")[:64],
            browser=browser,
            **values,
        )
        try:
            return self.outbox.enqueue(
                session,
                idempotency_key=key,
                recipient=user.email or "",
                kind=kind,
                subject=text.subject,
                body_text=text.body_text,
                user_id=user.id,
                language=language,
            )
        except InvalidMailAddress:
            # An address stored before mail existed and that mail cannot take: the
            # log-in must not fail for it. Ids only in the log.
            log.warning(
                "no log-in alert: the user's e-mail address is not usable",
                extra={"egide": {"user": user.id, "kind": kind}},
            )
            return False
