"""Mail that is never lost (issue 7 item 6): an outbox written in the event's
transaction, a worker that sends it over SMTP, and the log-in alerts (issue 5
item 5). See docs/mail.md."""

from egide.services.mail.outbox import Outbox
from egide.services.mail.sender import MailSender, SmtpConfig
from egide.services.mail.service import MailService, MailStatus

__all__ = ["MailSender", "MailService", "MailStatus", "Outbox", "SmtpConfig"]
