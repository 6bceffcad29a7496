"""The texts of the mail Égide sends, in French and in English.

One language per message: the user's (`users.language`), else the
`language` setting. Templates are `str.format` strings filled with values the
code computed (a time, an address, a browser family, the public URL): never a
file name, a token, a secret or anything else the user typed, so nothing in
a mail can leak content (docs/mail.md, "Privacy").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

#: The languages mail is written in.
LANGUAGES: Final = ("fr", "en")


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    body_text: str
    language: str


_MONTHS_FR: Final = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)

_SIGNATURE: Final = {
    "fr": "\n-- \nÉgide, {url}\nMessage automatique : ne répondez pas.\n",
    "en": "\n-- \nÉgide, {url}\nAutomatic message: do not reply.\n",
}

_IF_NOT_YOU: Final = {
    "fr": (
        "Si ce n'était pas vous, changez votre phrase de passe dès maintenant sur {url}, "
        "mettez fin aux sessions que vous ne reconnaissez pas (page « Mon compte », "
        "« Sessions ») et prévenez votre administrateur ou votre délégué à la protection "
        "des données.\n"
        "Si c'était vous, vous n'avez rien à faire.\n"
    ),
    "en": (
        "If it was not you, change your passphrase now at {url}, end the sessions you do "
        'not recognise (page "My account", "Sessions") and tell your administrator or '
        "your data protection officer.\n"
        "If it was you, there is nothing to do.\n"
    ),
}

TEMPLATES: Final[dict[str, dict[str, Template]]] = {
    "login-new-device": {
        "fr": Template(
            subject="Égide : connexion depuis un nouvel appareil",
            body=(
                "Bonjour,\n\n"
                "Votre compte Égide vient d'être utilisé pour se connecter depuis un appareil "
                "ou une adresse que nous n'avions pas vus ces {days} derniers jours :\n\n"
                "  Date : {time}\n"
                "  Adresse du client : {address}\n"
                "  Navigateur : {browser}\n\n"
            ),
        ),
        "en": Template(
            subject="Égide: sign-in from a new device",
            body=(
                "Hello,\n\n"
                "Your Égide account was just used to sign in from a device or an address not "
                "seen in the last {days} days:\n\n"
                "  Time: {time}\n"
                "  Client address: {address}\n"
                "  Browser: {browser}\n\n"
            ),
        ),
    },
    "login-after-failures": {
        "fr": Template(
            subject="Égide : connexion après des tentatives échouées",
            body=(
                "Bonjour,\n\n"
                "Votre compte Égide vient d'être utilisé pour se connecter après "
                "{failures} tentative(s) échouée(s) (mauvaise phrase de passe ou mauvais "
                "code){throttled} :\n\n"
                "  Date : {time}\n"
                "  Adresse du client : {address}\n"
                "  Navigateur : {browser}\n\n"
            ),
        ),
        "en": Template(
            subject="Égide: sign-in after failed attempts",
            body=(
                "Hello,\n\n"
                "Your Égide account was just used to sign in after {failures} failed "
                "attempt(s) (wrong passphrase or wrong code){throttled}:\n\n"
                "  Time: {time}\n"
                "  Client address: {address}\n"
                "  Browser: {browser}\n\n"
            ),
        ),
    },
    "test": {
        "fr": Template(
            subject="Égide : message de test",
            body=(
                "Bonjour,\n\n"
                "Ce message de test a été demandé par un administrateur d'Égide le {time}. "
                "S'il vous est parvenu, l'envoi de courriels fonctionne.\n"
            ),
        ),
        "en": Template(
            subject="Égide: test message",
            body=(
                "Hello,\n\n"
                "This test message was asked for by an Égide administrator on {time}. "
                "If you received it, sending mail works.\n"
            ),
        ),
    },
}

_THROTTLED: Final = {
    "fr": " ; le compte a été temporairement ralenti",
    "en": "; the account was slowed down for a while",
}

_UNKNOWN: Final = {"fr": "inconnu(e)", "en": "unknown"}


def format_time(when: dt.datetime, language: str, zone: str) -> str:
    """`when` in `zone`, written the way a reader of `language` expects, with the zone."""
    local = when.astimezone(ZoneInfo(zone))
    if language == "fr":
        month = _MONTHS_FR[local.month - 1]
        return f"{local.day} {month} {local.year} à {local:%H:%M} ({zone})"
    return f"{local:%B} {local.day}, {local.year} at {local:%H:%M} ({zone})"


def render(
    kind: str, language: str, *, url: str, alert: bool = False, **values: object
) -> Rendered:
    """The subject and plain text of `kind` in `language`; `alert` adds what to do if it
    was not the user."""
    template = TEMPLATES[kind][language]
    filled = {k: (_UNKNOWN[language] if v in (None, "") else v) for k, v in values.items()}
    if "throttled" in filled:
        filled["throttled"] = _THROTTLED[language] if values["throttled"] else ""
    body = template.body.format(**filled)
    if alert:
        body += _IF_NOT_YOU[language].format(url=url)
    body += _SIGNATURE[language].format(url=url)
    return Rendered(subject=template.subject, body_text=body, language=language)


def browser_family(user_agent: str) -> str:
    """A short name of the browser and system of a User-Agent: "Firefox (Windows)".

    Deliberately coarse (no version): what a reader recognises, and the key by
    which a device counts as seen before (docs/mail.md).
    """
    ua = user_agent or ""
    if not ua:
        return ""
    if ua.startswith("egide-cli"):
        return "egide (command line)"
    browser = "other"
    for marker, name in (
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("python-httpx", "httpx"),
        ("python-requests", "requests"),
    ):
        if marker in ua:
            browser = name
            break
    system = ""
    for marker, name in (
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ):
        if marker in ua:
            system = name
            break
    return f"{browser} ({system})" if system else browser
