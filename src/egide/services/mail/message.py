"""Addresses and messages: validated once, built by the standard library only.

No header is ever written by hand. Every address goes through `check_address`
(exactly one bare `local@domain`, ASCII local part, no display name, no
control character), subjects through `check_header_text`, and messages are
built as `email.message.EmailMessage` with `email.policy.SMTP`, whose header
folding refuses a CR or LF in a value: a name, subject or address cannot
start a header of its own (tests/services/mail/test_headers.py).

Non-ASCII local parts (SMTPUTF8) are refused: few relays accept them.
Internationalised domains are accepted and sent in their IDNA form.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from typing import Final
from urllib.parse import urlsplit

from egide.services.mail.errors import InvalidMailAddress, InvalidMailHeader, InvalidMailSender

MAX_ADDRESS: Final = 320
MAX_SUBJECT: Final = 300
#: RFC 5322 3.2.3 atext: what the left part of a Message-ID may hold (with dots between).
_DOT_ATOM: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
)
_LOCAL: Final = _DOT_ATOM
_LABEL: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def check_address(value: str, *, field: str = "recipient") -> str:
    """`value` as one bare address (`local@domain`, domain in IDNA form), or InvalidMailAddress.

    Refused: anything with a control character (CR, LF, NUL...), spaces, a
    display name, angle brackets, several addresses, comments, quoted local
    parts, a domain that is not a host name.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_ADDRESS:
        raise InvalidMailAddress(field)
    if _CONTROL.search(value) or any(c.isspace() for c in value):
        raise InvalidMailAddress(field)
    local, at, domain = value.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or len(local) > 64:
        raise InvalidMailAddress(field)
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidMailAddress(field) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or len(ascii_domain) > 253 or not all(_LABEL.fullmatch(x) for x in labels):
        raise InvalidMailAddress(field)
    address = f"{local}@{ascii_domain}"
    # The standard library must read it back as exactly this one address.
    parsed = email.utils.getaddresses([address])
    if parsed != [("", address)]:
        raise InvalidMailAddress(field)  # pragma: no cover - the checks above are stricter
    try:
        if Address(addr_spec=address).addr_spec != address:
            raise InvalidMailAddress(field)  # pragma: no cover - as above
    except (ValueError, IndexError):  # pragma: no cover - as above
        raise InvalidMailAddress(field) from None
    return address


def check_header_text(value: str, *, field: str, maximum: int = MAX_SUBJECT) -> str:
    """A header value (a subject, a display name) with no line break nor control character."""
    if not isinstance(value, str) or len(value) > maximum or _CONTROL.search(value):
        raise InvalidMailHeader(field)
    return value


def parse_sender(value: str) -> Address:
    """`smtp_from`: `addr` or `Display Name <addr>`, checked like any address."""
    if _CONTROL.search(value):
        raise InvalidMailSender()
    pairs = email.utils.getaddresses([value])
    if len(pairs) != 1 or not pairs[0][1]:
        raise InvalidMailSender()
    name, addr = pairs[0]
    try:
        addr = check_address(addr, field="smtp_from")
        check_header_text(name, field="smtp_from", maximum=100)
        local, _, domain = addr.rpartition("@")
        return Address(display_name=name, username=local, domain=domain)
    except (InvalidMailAddress, ValueError):
        raise InvalidMailSender() from None


def default_sender(public_url: str) -> str:
    """`egide@<host of public_url>` (a host with a dot), else `egide@localhost.localdomain`."""
    host = (urlsplit(public_url).hostname or "").lower()
    if "." not in host or host.replace(".", "").isdigit() or ":" in host:
        host = "localhost.localdomain"
    return f"egide@{host}"


def message_id(idempotency_key: str, public_url: str) -> str:
    """`<key@host-of-public_url>`, the same for every attempt at the same message.

    A key that cannot stand in a Message-ID as it is (RFC 5322 dot-atom) is
    replaced by its SHA-256.
    """
    host = urlsplit(public_url).hostname or "localhost"
    if not _DOT_ATOM.fullmatch(host):
        host = "localhost"  # pragma: no cover - an IPv6 literal public_url
    left = (
        idempotency_key
        if _DOT_ATOM.fullmatch(idempotency_key)
        else ("sha256." + hashlib.sha256(idempotency_key.encode()).hexdigest())
    )
    return f"<{left}@{host}>"


def build(
    *,
    sender: Address,
    recipient: str,
    subject: str,
    body_text: str,
    body_html: str | None,
    msgid: str,
    date: dt.datetime,
    language: str | None,
) -> EmailMessage:
    """The message, headers set through the `email` package only (SMTP policy: CRLF)."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = check_address(recipient)
    message["Subject"] = check_header_text(subject, field="subject")
    message["Date"] = email.utils.format_datetime(date.astimezone(dt.UTC))
    message["Message-ID"] = msgid
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-reply to it
    message.set_content(body_text)
    if body_html is not None:
        message.add_alternative(body_html, subtype="html")
    if language:
        message["Content-Language"] = language  # after set_content, which clears Content-*
    return message
