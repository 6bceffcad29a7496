"""The one-time code mail of a link, in French and in English.

Privacy (docs/mail.md): the mail says who sent what kind of thing (a
document, a folder), the code and how long it lasts; never a file name, a
path or the link's token. The subject is a fixed text, and the sender's
display name goes in the body only, so nothing typed by anyone can reach a
header; the address itself is checked by the outbox.
"""

from __future__ import annotations

from typing import Final

from egide.services.mail import templates

_SUBJECT: Final = {
    "fr": "Égide : votre code pour ouvrir un partage",
    "en": "Égide: your code to open a share",
}

_WHAT: Final = {
    "fr": {"file": "un document", "folder": "un dossier"},
    "en": {"file": "a document", "folder": "a folder"},
}

_BODY: Final = {
    "fr": (
        "Bonjour,\n\n"
        "{sender} vous a envoyé {what} par Égide. Pour l'ouvrir, saisissez ce code sur la "
        "page du lien :\n\n"
        "    {code}\n\n"
        "Il est valable {minutes} minutes et ne sert qu'une fois. Ne le transmettez à "
        "personne : il prouve que cette adresse est la vôtre.\n"
        "Si vous n'attendiez rien, ignorez ce message.\n"
    ),
    "en": (
        "Hello,\n\n"
        "{sender} sent you {what} through Égide. To open it, type this code on the link's "
        "page:\n\n"
        "    {code}\n\n"
        "It is valid for {minutes} minutes and works once. Give it to nobody: it proves "
        "that this address is yours.\n"
        "If you were not expecting anything, ignore this message.\n"
    ),
}

_SOMEONE: Final = {"fr": "Quelqu'un", "en": "Someone"}


def code_mail(
    language: str, *, sender: str | None, kind: str, code: str, minutes: int, url: str
) -> templates.Rendered:
    # A display name is one line of text in the body: strip any control character.
    who = "".join(ch for ch in (sender or "") if ch.isprintable())[:200] or _SOMEONE[language]
    body = _BODY[language].format(
        sender=who,
        what=_WHAT[language].get(kind, _WHAT[language]["file"]),
        code=code,
        minutes=minutes,
    )
    body += "\n-- \nÉgide, " + url + "\n"
    return templates.Rendered(subject=_SUBJECT[language], body_text=body, language=language)
