"""Name and path rules of API.md: NFC, 1 to 255 bytes of UTF-8, no control characters.

A name never contains `/` because paths are split on it; `.` and `..` are
refused so no path can climb; uniqueness inside a folder is case-insensitive
under Unicode case folding, enforced through the blind index.
"""

from __future__ import annotations

import re
import unicodedata

from egide.core.crypto.keys import normalize_name
from egide.core.errors import InvalidInput
from egide.services.vault.errors import InvalidName

MAX_NAME_BYTES = 255
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def check_name(raw: str) -> str:
    """The NFC form of a valid name, or InvalidName saying what is wrong."""
    name = normalize_name(raw)
    if not name or not name.strip():
        raise InvalidName("A name cannot be empty or only spaces.", field="name")
    if name in {".", ".."}:
        raise InvalidName('"." and ".." are not allowed as names.', field="name")
    if "/" in name:
        raise InvalidName('A name cannot contain "/". Choose another name.', field="name")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InvalidName(
            "A name cannot contain control characters (such as NUL, tab or line breaks). "
            "Remove them and try again.",
            field="name",
        )
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidName(
            "This name is too long ({size} bytes; at most 255). Shorten it.",
            field="name",
            size=len(name.encode("utf-8")),
        )
    return name


def split_path(path: str) -> list[str]:
    """Segments of a path inside a space; empty list for the root.

    Leading, trailing and repeated slashes are tolerated (they carry no name);
    each segment must be a valid name.
    """
    return [check_name(part) for part in path.split("/") if part != ""]


def join_path(segments: list[str]) -> str:
    return "/" + "/".join(segments)


def check_slug(slug: str) -> str:
    value = slug.strip().lower()
    if not SLUG_PATTERN.match(value):
        raise InvalidInput(
            "A space identifier uses 2 to 63 lower-case letters, digits and dashes, starting "
            "with a letter or digit (for example cardiologie or lab-biologie). It appears in "
            "links, so it must not contain a patient name.",
            field="slug",
        )
    return value
