"""Hourly and daily digests: one mail per user and period (ADR 26).

A period ends on the hour (hourly) or at midnight in `audit_timezone`
(daily). When a user's period has ended, one transaction takes the
notifications not mailed yet and created since the last digest (or since the
preference was set), enqueues one mail whose idempotency key names the user
and the period's end, marks the rows mailed and moves `last_digest_at` to the
period's end. A crash before the commit leaves all of it undone, after it all
of it done; a second worker enqueueing the same period writes nothing (the
key is unique): a digest is never sent twice.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from egide.core.db.models import Notification, NotifyPreference, User
from egide.services.notifications.derive import Deriver


def period_end(now: dt.datetime, delivery: str, zone: str) -> dt.datetime:
    """The end of the last complete period at `now`: the hour, or local midnight."""
    if delivery == "hourly":
        return now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    local = now.astimezone(ZoneInfo(zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(dt.UTC)


class Digests:
    """Sends the digests that are due."""

    def __init__(self, deriver: Deriver, *, timezone: str) -> None:
        self.deriver = deriver
        self.timezone = timezone

    def run_pass(self) -> int:
        """Enqueue every digest due now; how many mails were enqueued."""
        d = self.deriver
        now = d.clock.now()
        mails = 0
        with d.db.write() as session:
            prefs = list(
                session.scalars(
                    select(NotifyPreference)
                    .where(NotifyPreference.email.in_(("hourly", "daily")))
                    .with_for_update(skip_locked=True)
                )
            )
            for pref in prefs:
                end = period_end(now, pref.email, self.timezone)
                since = pref.last_digest_at or pref.updated_at
                if since >= end:
                    continue
                rows = list(
                    session.scalars(
                        select(Notification)
                        .where(
                            Notification.user_id == pref.user_id,
                            Notification.mailed_at.is_(None),
                            Notification.created_at >= since,
                            Notification.created_at < end,
                        )
                        .order_by(Notification.seq, Notification.id)
                    )
                )
                user = session.get(User, pref.user_id)
                if rows and user is not None and user.email and not user.is_disabled:
                    items = [d.mail_item(session, row, pref.privacy) for row in rows]
                    stamp = end.strftime("%Y%m%dT%H%MZ")
                    if d.enqueue(
                        session,
                        user,
                        d.language_of(user),
                        items,
                        key=f"notify-digest.{pref.user_id}.{stamp}",
                        privacy=pref.privacy,
                        digest=pref.email,
                    ):
                        mails += 1
                    for row in rows:
                        row.mailed_at = now
                pref.last_digest_at = end
        return mails
