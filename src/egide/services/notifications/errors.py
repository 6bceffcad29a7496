"""Errors of the notifications service."""

from __future__ import annotations

from egide.core.errors import InvalidInput


class CannotFollowFile(InvalidInput):
    code = "notify-follow-file"

    def __init__(self) -> None:
        super().__init__(
            "You can follow a folder or a whole space, not a single file: follow the folder "
            "that holds it.",
            field="path",
        )


class InvalidDelivery(InvalidInput):
    code = "notify-invalid-delivery"

    def __init__(self) -> None:
        super().__init__(
            "E-mail delivery must be one of immediate, hourly, daily or off.",
            field="email",
        )
