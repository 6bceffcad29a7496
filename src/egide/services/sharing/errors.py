"""Errors of sharing (typed; doors map them by kind).

NotFound
  LinkNotFound          unknown, expired, revoked, exhausted: one neutral answer
Unauthenticated
  LinkLocked            the link needs its password or a verified address first
  LinkPasswordWrong
  LinkCodeWrong         wrong, expired or used-up one-time code
Forbidden
  LinksForbidden        the space allows no external link
InvalidInput
  InvalidLinkInput      expiry, recipients, limit, password of a new link
TooLarge
  RequestTooLarge       a file over a file request's limit, or over what it still accepts
EgideError (THROTTLED)
  LinkThrottled         too many wrong guesses from this address or on this link
"""

from __future__ import annotations

from typing import Final

from egide.core.errors import (
    EgideError,
    ErrorKind,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    Unauthenticated,
)

#: The one answer for a link that cannot be opened, whatever the reason.
LINK_NOT_FOUND: Final = (
    "This link does not exist, has expired or was withdrawn. Ask the person who sent it "
    "for a new one."
)


class LinkNotFound(NotFound):
    code = "link-not-found"

    def __init__(self) -> None:
        super().__init__(LINK_NOT_FOUND)


class LinkLocked(Unauthenticated):
    code = "link-locked"

    def __init__(self) -> None:
        super().__init__(
            "This link is protected: give its password, or prove your e-mail address with "
            "the code sent to it, before opening it."
        )


class LinkPasswordWrong(Unauthenticated):
    code = "link-password-wrong"

    def __init__(self) -> None:
        super().__init__(
            "Wrong password for this link. Check it with the person who sent the link."
        )


class LinkCodeWrong(Unauthenticated):
    code = "link-code-wrong"

    def __init__(self) -> None:
        super().__init__(
            "This code is wrong, has expired or was tried too often. Ask for a new code and "
            "type the 6 digits of the latest mail."
        )


class LinksForbidden(Forbidden):
    code = "links-forbidden"

    def __init__(self) -> None:
        super().__init__(
            "External links are not allowed in this space. Share with a colleague's account "
            "instead, or ask an administrator to allow links here."
        )


class InvalidLinkInput(InvalidInput):
    code = "invalid-link"


class RequestTooLarge(TooLarge):
    """A file a request cannot take: refused before anything is stored."""

    code = "request-too-large"


class RequestFolderFull(TooLarge):
    """The folder's space is full: said to an outside sender without the details."""

    code = "request-folder-full"

    def __init__(self) -> None:
        super().__init__(
            "This file could not be received: there is no room left for it. Nothing was "
            "stored. Tell the person who sent you this link."
        )


class LinkThrottled(EgideError):
    """Too many wrong tokens from one address, or wrong passwords or codes on one link.

    `retry_after` (seconds) becomes the HTTP Retry-After.
    """

    kind = ErrorKind.THROTTLED
    code = "link-throttled"

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            "Too many failed attempts. Wait {seconds} s, then try again.", seconds=retry_after
        )
