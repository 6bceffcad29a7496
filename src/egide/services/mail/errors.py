"""Errors of the mail service."""

from __future__ import annotations

from egide.core.errors import InvalidInput, Unavailable


class InvalidMailAddress(InvalidInput):
    code = "mail-invalid-address"

    def __init__(self, field: str = "recipient") -> None:
        super().__init__(
            "This e-mail address is not valid: give exactly one address, written as "
            "name@example.org, without a display name, spaces or line breaks.",
            field=field,
        )


class InvalidMailHeader(InvalidInput):
    code = "mail-invalid-header"

    def __init__(self, field: str) -> None:
        super().__init__(
            "The {header} of a mail may not hold line breaks or control characters, and must "
            "fit its column: shorten it or remove those characters.",
            field=field,
            header=field,
        )


class InvalidMailSender(InvalidInput):
    code = "mail-invalid-sender"

    def __init__(self) -> None:
        super().__init__(
            "EGIDE_SMTP_FROM is not a valid sender: write it as egide@hopital.example or "
            "as Égide <egide@hopital.example>.",
            field="smtp_from",
        )


class MailNotConfigured(Unavailable):
    code = "mail-not-configured"

    def __init__(self) -> None:
        super().__init__(
            "No SMTP server is configured, so mail waits in the outbox: set EGIDE_SMTP_HOST "
            "(and the other EGIDE_SMTP_* settings, docs/mail.md)."
        )
