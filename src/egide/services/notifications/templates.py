"""The text of notification mail, in French and in English.

The subject never holds a name: it says only how many things happened. The
body counts them by kind and links to the notifications page (no path, no id
that names anything in the URL). With the user's privacy mode off, and only
then, the body also lists each item's path and who acted (docs/notifications.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from egide.services.mail.templates import Rendered

#: The kinds of notification, in the order mail lists them.
KINDS: Final = (
    "file_added",
    "file_updated",
    "deleted",
    "shared",
    "link_opened",
    "request_received",
)

_COUNT: Final[Mapping[str, Mapping[str, str]]] = {
    "fr": {
        "file_added": "fichier(s) ajouté(s)",
        "file_updated": "fichier(s) modifié(s)",
        "deleted": "élément(s) mis à la corbeille",
        "shared": "partage(s) avec vous",
        "link_opened": "ouverture(s) d'un lien que vous avez créé",
        "request_received": "dépôt(s) reçu(s) par une demande de fichiers",
    },
    "en": {
        "file_added": "file(s) added",
        "file_updated": "file(s) updated",
        "deleted": "item(s) moved to the trash",
        "shared": "share(s) with you",
        "link_opened": "opening(s) of a link you created",
        "request_received": "upload(s) received through a file request",
    },
}

_LABEL: Final[Mapping[str, Mapping[str, str]]] = {
    "fr": {
        "file_added": "Ajouté",
        "file_updated": "Modifié",
        "deleted": "Mis à la corbeille",
        "shared": "Partagé avec vous",
        "link_opened": "Lien ouvert",
        "request_received": "Dépôt reçu",
    },
    "en": {
        "file_added": "Added",
        "file_updated": "Updated",
        "deleted": "Moved to the trash",
        "shared": "Shared with you",
        "link_opened": "Link opened",
        "request_received": "Upload received",
    },
}

_SUBJECT: Final = {
    ("fr", None): "Égide : {n} nouvelle(s) notification(s)",
    ("en", None): "Égide: {n} new notification(s)",
    ("fr", "hourly"): "Égide : votre résumé de l'heure ({n} notification(s))",
    ("en", "hourly"): "Égide: your hourly summary ({n} notification(s))",
    ("fr", "daily"): "Égide : votre résumé du jour ({n} notification(s))",
    ("en", "daily"): "Égide: your daily summary ({n} notification(s))",
}

_TEXT: Final = {
    "fr": {
        "hello": "Bonjour,\n\n",
        "intro": "Du nouveau dans Égide, dans ce que vous suivez ou ce qui vous concerne :\n\n",
        "details": "\nDétail :\n\n",
        "more": "  ... et {n} autre(s)\n",
        "by": " (par {actor})",
        "see": "\nPour les voir : {url}/notifications\n",
        "privacy": (
            "Mode discret : ce message ne contient aucun nom de fichier ni de dossier. "
            "Vos préférences de notification sont sur la page « Mon compte ».\n"
        ),
        "prefs": "Vos préférences de notification sont sur la page « Mon compte ».\n",
        "signature": "\n-- \nÉgide, {url}\nMessage automatique : ne répondez pas.\n",
    },
    "en": {
        "hello": "Hello,\n\n",
        "intro": "There is news in Égide, in what you follow or what concerns you:\n\n",
        "details": "\nDetails:\n\n",
        "more": "  ... and {n} more\n",
        "by": " (by {actor})",
        "see": "\nTo see them: {url}/notifications\n",
        "privacy": (
            "Privacy mode: this message holds no file or folder name. Your notification "
            'preferences are on the "My account" page.\n'
        ),
        "prefs": 'Your notification preferences are on the "My account" page.\n',
        "signature": "\n-- \nÉgide, {url}\nAutomatic message: do not reply.\n",
    },
}

#: Lines of detail in one mail, at most (the page has the rest).
MAX_DETAILS: Final = 50


@dataclass(frozen=True)
class Item:
    """One notification as a mail shows it; `where` and `actor` only with privacy off."""

    kind: str
    where: str | None = None
    actor: str | None = None


def render(
    language: str,
    items: Sequence[Item],
    *,
    url: str,
    privacy: bool,
    digest: str | None = None,
) -> Rendered:
    """The subject and body of one notification mail holding `items`."""
    text = _TEXT[language]
    counts = dict.fromkeys(KINDS, 0)
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    body = text["hello"] + text["intro"]
    for kind in KINDS:
        if counts[kind]:
            body += f"  - {counts[kind]} {_COUNT[language][kind]}\n"
    if not privacy:
        shown = [item for item in items if item.where]
        if shown:
            body += text["details"]
            for item in shown[:MAX_DETAILS]:
                by = text["by"].format(actor=_clean(item.actor)) if item.actor else ""
                body += (
                    f"  - {_LABEL[language][item.kind]} : "
                    if language == "fr"
                    else (f"  - {_LABEL[language][item.kind]}: ")
                )
                body += f"{_clean(item.where or '')}{by}\n"
            if len(shown) > MAX_DETAILS:
                body += text["more"].format(n=len(shown) - MAX_DETAILS)
    body += text["see"].format(url=url)
    body += text["privacy"] if privacy else text["prefs"]
    body += text["signature"].format(url=url)
    subject = _SUBJECT[(language, digest)].format(n=len(items))
    return Rendered(subject=subject, body_text=body, language=language)


def _clean(value: str) -> str:
    """A name as one line of text: no control character can shape the mail."""
    return "".join(ch if ch.isprintable() else " " for ch in value)[:300]
