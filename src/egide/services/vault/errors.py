"""Errors raised by the vault service (typed; doors map them by kind)."""

from __future__ import annotations

from egide.core.errors import Conflict, Forbidden, InvalidInput, PreconditionFailed, TooLarge


class InvalidName(InvalidInput):
    code = "invalid-name"


class NameTaken(Conflict):
    code = "name-taken"


class ParentMissing(Conflict):
    code = "parent-missing"


class NotAFolder(Conflict):
    code = "not-a-folder"


class NotAFile(Conflict):
    code = "not-a-file"


class StaleVersion(PreconditionFailed):
    """A write named a version that is no longer current (optimistic concurrency)."""

    code = "stale-version"


class AlreadyExists(PreconditionFailed):
    """`If-None-Match: *` and the file exists."""

    code = "already-exists"


class QuotaExceeded(TooLarge):
    code = "quota-exceeded"


class StillProtected(Forbidden):
    """A purge asked for data still inside its protection window."""

    code = "still-protected"


class InvalidMove(Conflict):
    code = "invalid-move"
