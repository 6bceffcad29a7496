"""Messages in the user's language: French first, English second.

Every message is written in English in the code (a gettext msgid with
`{placeholders}`: `EgideError` messages, and the fixed texts of the doors
marked with `gettext_noop`). The French catalogue is the source file
`locale/fr/LC_MESSAGES/egide.po`, read at run time (no compiled `.mo`, no
build step) and kept in step with the code by `tools/messages.py`. A msgid
without a French translation falls back to English.

Doors choose the language: the web door from `Accept-Language` (`negotiate`,
RFC 9110 section 12.5.4) with the `language` setting as default; the CLI
from the environment (`language_from_environment`, gettext's order).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Final

from egide.core.errors import EgideError

#: The languages Égide speaks, in order of preference.
SUPPORTED: Final = ("fr", "en")
#: The language the msgids are written in.
SOURCE_LANGUAGE: Final = "en"
#: Message parameters that may hold a word of ours ("file", "folder") rather than
#: the user's input: a value of `VOCABULARY` there is translated along with the
#: message. Any other value (a name the user typed, a path) is shown as given.
TRANSLATED_PARAMETERS: Final = frozenset({"what", "kind"})

_log = logging.getLogger(__name__)
_LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"

# RFC 9110 section 12.5.4 (language-range from RFC 4647) and section 12.4.2 (qvalue).
_RANGE = re.compile(r"^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$")
_QVALUE = re.compile(r"^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")


def gettext_noop(text: str) -> str:
    """Mark a fixed text as a msgid for `tools/messages.py`; returns it unchanged."""
    return text


#: The words services pass as `{what}` or `{kind}` (`NoSuchItem(what)`,
#: `canonical_name(what=)`, principal kinds). All masculine in French, which the
#: French templates rely on ("Aucun {what} correspondant").
VOCABULARY: Final = frozenset(
    {
        gettext_noop("item"),
        gettext_noop("file"),
        gettext_noop("folder"),
        gettext_noop("space"),
        gettext_noop("user"),
        gettext_noop("group"),
        gettext_noop("username"),
        gettext_noop("group name"),
    }
)


def catalogue_path(language: str) -> Path:
    return _LOCALE_DIR / language / "LC_MESSAGES" / "egide.po"


@cache
def _catalogue(language: str) -> Mapping[str, str]:
    """msgid -> translation, for the translated, non-fuzzy entries of the catalogue.

    Cached for the life of the process: the catalogue ships with the code and
    never changes while it runs.
    """
    from babel.messages.pofile import PoFileError, read_po

    path = catalogue_path(language)
    try:
        with path.open("rb") as stream:
            catalogue = read_po(stream, locale=language, domain="egide", abort_invalid=True)
    except (OSError, PoFileError):  # pragma: no cover - tests/core/test_i18n.py reads it
        # An error must still be shown: in English rather than not at all.
        _log.exception("cannot read the %s message catalogue %s", language, path)
        return {}
    return {
        message.id: message.string
        for message in catalogue
        if isinstance(message.id, str)
        and message.id
        and isinstance(message.string, str)
        and message.string
        and not message.fuzzy
    }


def translator(language: str) -> Callable[[str], str]:
    """A function from an English msgid to its text in `language` (English if missing)."""
    if language not in SUPPORTED:
        raise ValueError(f"unsupported language {language!r}; expected one of {SUPPORTED}")
    if language == SOURCE_LANGUAGE:
        return _same
    translations = _catalogue(language)
    return lambda msgid: translations.get(msgid, msgid)


def _same(msgid: str) -> str:
    return msgid


def render(error: EgideError, language: str) -> str:
    """An error's message in `language`, its parameters filled in."""
    if language == SOURCE_LANGUAGE:
        return error.render()
    translate = translator(language)
    params = {
        name: translate(value) if _ours(name, value) else value
        for name, value in error.params.items()
    }
    template = translate(error.message)
    try:
        return str(template.format(**params))
    except (KeyError, IndexError, ValueError):  # a broken translation: the English
        return error.render()


def _ours(name: str, value: object) -> bool:
    return name in TRANSLATED_PARAMETERS and isinstance(value, str) and value in VOCABULARY


def text(language: str, msgid: str, **params: object) -> str:
    """A fixed text (marked with `gettext_noop`) in `language`, its parameters filled in."""
    template = translator(language)(msgid)
    if not params:
        return template
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):  # a broken translation: the English
        return msgid.format(**params)


def _primary(tag: str) -> str:
    return tag.split("-", 1)[0].lower()


def negotiate(accept_language: str | None, default: str) -> str:
    """The supported language a client prefers (RFC 9110 section 12.5.4), else `default`.

    `fr-FR` and `fr` both select French (matched on the primary subtag); `*`
    stands for any language the client did not name, the default first; a
    range with `q=0` excludes that language ("not acceptable") when it names
    no region, or every language not named when it is `*`. Equal weights keep
    the client's order. A malformed element is skipped and a header with
    nothing usable gives `default`, so a broken client still gets an answer.
    """
    if default not in SUPPORTED:
        raise ValueError(f"unsupported default language {default!r}")
    if not accept_language:
        return default
    weighted: list[tuple[float, int, str]] = []
    excluded: set[str] = set()
    for position, element in enumerate(accept_language.split(",")):
        parsed = _element(element)
        if parsed is None:
            continue
        language_range, weight = parsed
        if weight == 0:
            if language_range == "*":
                excluded.add("*")
            elif "-" not in language_range:
                excluded.add(_primary(language_range))
            continue
        weighted.append((-weight, position, language_range))
    named = {_primary(r) for _, _, r in weighted if r != "*"}
    for _, _, language_range in sorted(weighted):
        if language_range == "*":
            others = [default, *SUPPORTED]
            for language in others:
                if language not in named and language not in excluded:
                    return language
            continue
        language = _primary(language_range)
        if language in SUPPORTED and language not in excluded:
            return language
    return default


def _element(element: str) -> tuple[str, float] | None:
    """`range;q=0.5` as (range, weight), or None when malformed or empty."""
    language_range, *parameters = (part.strip() for part in element.split(";"))
    if not _RANGE.match(language_range):
        return None
    weight = 1.0
    for parameter in parameters:
        name, equals, value = (p.strip() for p in parameter.partition("="))
        if name.lower() != "q" or not equals or not _QVALUE.match(value):
            return None
        weight = float(value)
    return language_range, weight


def language_from_environment(environ: Mapping[str, str]) -> str:
    """The language of a terminal: the first non-empty of LANGUAGE, LC_ALL,
    LC_MESSAGES, LANG (gettext's order); `fr_FR.UTF-8` gives French, and
    anything Égide does not speak (`C`, `de_DE`) English.

    LANGUAGE may be a priority list (`de:fr:en`): its first supported entry wins.
    """
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable, "").strip()
        if not value:
            continue
        entries = value.split(":") if variable == "LANGUAGE" else [value]
        for entry in entries:
            language = re.split(r"[_.@-]", entry.strip(), maxsplit=1)[0].lower()
            if language in SUPPORTED:
                return language
        return SOURCE_LANGUAGE
    return SOURCE_LANGUAGE
