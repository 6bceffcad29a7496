"""Steps shared by the sharing tests."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager

from egide.services.audit.context import RequestContext, request_context
from egide.services.registry import Services
from tests.services.mail.smtp_server import SmtpServer

_CODE = re.compile(r"^\s+([0-9]{6})\s*$", re.MULTILINE)


def from_address(address: str = "192.0.2.10") -> AbstractContextManager[None]:
    """Act as a web request from `address` would (the throttles count per address)."""
    return request_context(RequestContext(client_address=address, channel="link"))


def mailed_code(svc: Services, smtp: SmtpServer, recipient: str) -> str:
    """Send what waits in the outbox, and read the last code that reached `recipient`."""
    svc.mail.send_pending()
    for received in reversed(smtp.received):
        if recipient in received.rcpt_tos:
            body = received.message.get_body(("plain",))
            assert body is not None
            match = _CODE.search(body.get_content())
            assert match is not None, "no code in the mail"
            return match.group(1)
    raise AssertionError(f"no mail reached {recipient}")
