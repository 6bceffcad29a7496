"""Languages: negotiation, the French catalogue, and that it covers every message.

The completeness test reads the messages of the code with the extractor of
`tools/messages.py` (the same one that updates the catalogue), so a new error
message without a French translation fails here; `test_a_new_untranslated_message_is_caught`
shows it on a synthetic module.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from tools import messages
from typer.testing import CliRunner

from egide.cli.main import app as cli_app
from egide.core.errors import EgideError, InvalidInput, NotFound
from egide.core.i18n import (
    SUPPORTED,
    VOCABULARY,
    catalogue_path,
    gettext_noop,
    language_from_environment,
    negotiate,
    render,
    text,
    translator,
)
from egide.services.access.errors import NoSuchItem
from egide.services.accounts.errors import UserNotFound

# Negotiation (RFC 9110 section 12.5.4) -------------------------------------------


@pytest.mark.parametrize(
    ("header", "default", "expected"),
    [
        (None, "fr", "fr"),
        (None, "en", "en"),
        ("", "fr", "fr"),
        ("fr", "en", "fr"),
        ("en", "fr", "en"),
        ("fr-FR", "en", "fr"),
        ("en-GB,en;q=0.9", "fr", "en"),
        ("FR-ca", "en", "fr"),
        ("de-DE, en;q=0.5, fr;q=0.4", "fr", "en"),
        ("en;q=0.4, fr;q=0.8", "en", "fr"),
        ("fr;q=0.5, en;q=0.5", "en", "fr"),  # equal weights: the client's order
        ("de", "en", "en"),  # nothing we speak: the default
        ("*", "fr", "fr"),
        ("*", "en", "en"),
        ("de, *;q=0.1", "en", "en"),
        ("fr;q=0, *", "fr", "en"),  # q=0: not acceptable, * takes another
        ("fr;q=0, en;q=0.1", "fr", "en"),
        ("en;q=0", "en", "en"),  # nothing acceptable left: an answer anyway
        ("en, *;q=0", "fr", "en"),
        ("fr;q=1.000", "en", "fr"),
        ("fr ; Q=0.7 , en;q=0.6", "en", "fr"),
        # Malformed elements are skipped, a malformed header gives the default.
        ("fr;q=2", "en", "en"),
        ("fr;q=abc, en", "fr", "en"),
        ("fr;q=0.12345", "en", "en"),
        ("fr;level=1", "en", "en"),
        ("fr_FR", "en", "en"),
        (";;;,,,", "fr", "fr"),
        ("français", "en", "en"),
        ("x" * 5000, "fr", "fr"),
    ],
)
def test_negotiate(header: str | None, default: str, expected: str) -> None:
    assert negotiate(header, default) == expected


def test_negotiate_refuses_an_unsupported_default() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        negotiate("fr", "de")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "fr"),
        ({"LANG": "fr_CA"}, "fr"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "fr_FR.UTF-8"}, "fr"),
        ({"LANG": "fr_FR.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8", "LC_ALL": ""}, "fr"),  # empty means unset
        ({"LANGUAGE": "de:fr:en", "LANG": "en_US.UTF-8"}, "fr"),
        ({"LANGUAGE": "fr_FR@euro"}, "fr"),
        ({"LC_ALL": "POSIX", "LANG": "fr_FR.UTF-8"}, "en"),  # the first non-empty wins
    ],
)
def test_language_from_environment(environ: dict[str, str], expected: str) -> None:
    assert language_from_environment(environ) == expected


# Translation -----------------------------------------------------------------------


def test_translator() -> None:
    assert translator("en")("Wrong username or password.") == "Wrong username or password."
    assert translator("fr")("Wrong username or password.") == (
        "Nom d'utilisateur ou mot de passe incorrect."
    )
    assert translator("fr")("A text nobody translated") == "A text nobody translated"
    with pytest.raises(ValueError, match="unsupported"):
        translator("de")


def test_render_fills_the_translated_template() -> None:
    error = InvalidInput("{name} must be a whole number of bytes.", name="Upload-Length")
    assert render(error, "en") == "Upload-Length must be a whole number of bytes."
    assert render(error, "fr") == "Upload-Length doit être un nombre entier d'octets."
    assert text("fr", gettext_noop("Error:")) == "Erreur :"


def test_our_words_are_translated_the_users_are_not() -> None:
    assert render(NoSuchItem("file"), "fr") == (
        "Aucun fichier correspondant, ou vous n'y avez pas accès."
    )
    assert render(NoSuchItem(), "fr") == "Aucun élément correspondant, ou vous n'y avez pas accès."
    # A user named "file" stays "file": only `what` and `kind` hold words of ours.
    assert render(UserNotFound("file"), "fr") == "Aucun utilisateur nommé file."
    assert render(NotFound("No such {kind}.", kind="group"), "fr") == "Aucun groupe correspondant."


def test_an_untranslated_or_broken_template_falls_back() -> None:
    error = EgideError("Nobody translated this {thing}.", thing="yet")
    assert render(error, "fr") == "Nobody translated this yet."


# The catalogue -----------------------------------------------------------------------


def placeholders(template: str) -> list[tuple[str, str | None]]:
    return sorted(
        (name, spec) for _, name, spec, _ in string.Formatter().parse(template) if name is not None
    )


def catalogue_problems(msgids: Iterable[str], translations: dict[str, str]) -> list[str]:
    """What is wrong with the French of these msgids: missing, empty, other placeholders."""
    problems = []
    for msgid in sorted(msgids):
        french = translations.get(msgid)
        if not french:
            problems.append(f"no French for {msgid!r}")
        elif placeholders(french) != placeholders(msgid):
            problems.append(f"placeholders differ in {msgid!r}: {french!r}")
    return problems


def french() -> dict[str, str]:
    with catalogue_path("fr").open("rb") as stream:
        catalogue = read_po(stream, locale="fr", abort_invalid=True)
    assert not [m.id for m in catalogue if m.id and m.fuzzy], "fuzzy entries are not used"
    return {
        m.id: m.string
        for m in catalogue
        if isinstance(m.id, str) and m.id and isinstance(m.string, str)
    }


def test_the_catalogue_parses_strictly() -> None:
    translations = french()
    assert len(translations) > 100
    assert translations["Not found"] == "Introuvable"


def test_every_message_has_a_french_translation() -> None:
    extraction = messages.extract()
    assert "Wrong username or password." in extraction.messages  # an error message
    assert "Bad request" in extraction.messages  # a problem title (gettext_noop)
    assert set(VOCABULARY) <= set(extraction.messages)
    assert catalogue_problems(extraction.messages, french()) == []


def test_every_message_is_a_constant() -> None:
    """An f-string or a variable as a message cannot be translated: write `{name}`."""
    assert [str(where) for where in messages.extract().dynamic] == []


def test_the_catalogue_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert messages.main(["--check"]) == 0, capsys.readouterr().out


SYNTHETIC = """
class BrandNew(InvalidInput):
    def __init__(self, size):
        super().__init__("A brand new message about {size} bytes.", size=size)


def check(value, message):
    if value < 0:
        raise InvalidInput("Wrong username or password.")
    if value == 0:
        raise InvalidInput(f"Another new message about {value}.")
    if value == 1:
        raise InvalidInput(message)  # forwarded: the caller's constant is extracted
    if value == 2:
        raise NoSuchItem("file")  # not a message: NoSuchItem's argument is a word
    return gettext_noop("A new fixed text")
"""


def test_a_new_untranslated_message_is_caught() -> None:
    """Why `test_every_message_has_a_french_translation` fails when someone adds an
    error without translating it: the extractor finds the new msgid (here in a
    synthetic module, in the real test in src/egide), the catalogue has no French for
    it, and `catalogue_problems` says so; an f-string is reported as not extractable,
    which fails `test_every_message_is_a_constant`."""
    namespace: dict[str, object] = {
        "InvalidInput": InvalidInput,
        "NoSuchItem": NoSuchItem,
        "gettext_noop": gettext_noop,
    }
    exec(compile(SYNTHETIC, "synthetic.py", "exec"), namespace)  # noqa: S102 - our own source
    extraction = messages.scan_source(SYNTHETIC, namespace, "synthetic.py")
    assert sorted(extraction.messages) == [
        "A brand new message about {size} bytes.",
        "A new fixed text",
        "Wrong username or password.",
    ]
    assert [where.line for where in extraction.dynamic] == [11]
    assert catalogue_problems(extraction.messages, french()) == [
        "no French for 'A brand new message about {size} bytes.'",
        "no French for 'A new fixed text'",
    ]


def test_the_catalogue_catches_a_changed_placeholder() -> None:
    assert catalogue_problems(
        ["No user named {username}."], {"No user named {username}.": "Aucun utilisateur {nom}."}
    ) == ["placeholders differ in 'No user named {username}.': 'Aucun utilisateur {nom}.'"]


def test_the_update_adds_and_obsoletes(tmp_path: Path) -> None:
    catalogue = messages.read_catalogue(catalogue_path("fr"))
    extraction = messages.Extraction()
    where = messages.Location("src/egide/x.py", 1)
    extraction.add("Wrong username or password.", where)
    extraction.add("A brand new message.", where)
    changes = messages.update(catalogue, extraction)
    assert changes.added == ["A brand new message."]
    assert "Bad request" in changes.obsoleted
    path = tmp_path / "egide.po"
    path.write_bytes(messages.render(catalogue))
    again = messages.read_catalogue(path)
    added = again.get("A brand new message.")
    assert added is not None
    assert added.string == ""
    assert again.get("Bad request") is None
    assert "Bad request" in again.obsolete
    assert not messages.update(again, extraction)  # nothing more to do


def test_supported_languages() -> None:
    assert SUPPORTED == ("fr", "en")


# The CLI door (cli/common.py, handled_errors) ------------------------------------------


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("fr_FR.UTF-8", "Erreur : Le répertoire de données"),
        ("C.UTF-8", "Error: The data directory"),
    ],
)
def test_the_cli_prints_errors_in_the_language_of_the_environment(
    tmp_path: Path, lang: str, expected: str
) -> None:
    env = {"LANG": lang, "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}
    env |= {"EGIDE_DATA_DIR": str(tmp_path / "missing"), "COLUMNS": "1000"}
    result = CliRunner().invoke(cli_app, ["ls", "cardio", "--user", "alice"], env=env)
    assert result.exit_code == 13
    assert expected in " ".join(result.output.split())
