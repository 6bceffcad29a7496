"""Keep the French message catalogue in step with the code.

    python tools/messages.py           # update src/egide/locale/fr/LC_MESSAGES/egide.po
    python tools/messages.py --check   # exit 1 when the catalogue is out of date

A message is found by reading the source (AST) of every module of
`src/egide`, each module also imported so that names resolve to the objects
they denote:

- the first argument of a call whose callee is a subclass of `EgideError`
  (`InvalidInput("...")`, `errors.NotFound("...")`), or of
  `super().__init__(...)` inside such a subclass;
- the argument of `gettext_noop("...")` (`egide.core.i18n`): the fixed texts
  of the doors (problem titles, wrappers, tus answers, the CLI prefix).

The argument may be a string literal, implicit or `+` concatenation of
literals, a module constant holding a string (`SEGMENT_FAILED`), or a
conditional expression of those. Anything else (an f-string, a variable) is
not a msgid: it is listed as "not extractable" so someone rewrites it with
`{placeholders}`; an argument that is a parameter of the enclosing function
(the base classes forwarding `message`) is not reported.

Updating adds new msgids with an empty msgstr (to translate), marks vanished
ones obsolete (`#~`, kept for reference), and prints what changed. Alembic
scripts (`core/db/migrations/`) are skipped: Alembic runs them, they are not
importable on their own.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import io
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from egide.core.errors import EgideError
from egide.core.i18n import catalogue_path, gettext_noop

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "egide"
SKIPPED = ("core/db/migrations/",)


@dataclass(frozen=True)
class Location:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Extraction:
    """Msgids with where they occur, and the calls whose message is not a constant."""

    messages: dict[str, list[Location]] = field(default_factory=dict)
    dynamic: list[Location] = field(default_factory=list)

    def add(self, msgid: str, where: Location) -> None:
        self.messages.setdefault(msgid, []).append(where)


def _takes_message(obj: object) -> bool:
    """An EgideError class whose first argument is the message (not, say, `NoSuchItem(what)`)."""
    if not (isinstance(obj, type) and issubclass(obj, EgideError)):
        return False
    first = next(iter(inspect.signature(obj).parameters), None)
    return first == "message"


def _lookup(node: ast.expr, namespace: Mapping[str, Any]) -> object:
    """The object a `name` or `name.attr.attr` expression denotes in a module, or None."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _lookup(node.value, namespace)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


def _strings(node: ast.expr, namespace: Mapping[str, Any]) -> list[str] | None:
    """Every string a message argument can be, or None when it is not a constant."""
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else None
    if isinstance(node, ast.IfExp):
        body, orelse = _strings(node.body, namespace), _strings(node.orelse, namespace)
        return body + orelse if body is not None and orelse is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _strings(node.left, namespace), _strings(node.right, namespace)
        if left is not None and right is not None and len(left) == len(right) == 1:
            return [left[0] + right[0]]
        return None
    if isinstance(node, ast.Name | ast.Attribute):
        value = _lookup(node, namespace)
        return [value] if isinstance(value, str) else None
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, namespace: Mapping[str, Any], path: str, into: Extraction) -> None:
        self.namespace = namespace
        self.path = path
        self.into = into
        self.classes: list[str] = []
        self.parameters: list[set[str]] = []

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        arguments = node.args
        names = {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}
        self.parameters.append(names)
        self.generic_visit(node)
        self.parameters.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_function(node)

    def _enclosing_class(self) -> object:
        obj: object = None
        scope: Mapping[str, Any] | None = self.namespace
        for name in self.classes:
            obj = scope.get(name) if scope is not None else getattr(obj, name, None)
            scope = None
        return obj

    def _message_argument(self, node: ast.Call) -> ast.expr | None:
        func = node.func
        is_super_init = (
            isinstance(func, ast.Attribute)
            and func.attr == "__init__"
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "super"
        )
        if is_super_init:
            # The class whose __init__ super() reaches: the next one in the MRO.
            owner = self._enclosing_class()
            parent = owner.__mro__[1] if isinstance(owner, type) else None
            if not _takes_message(parent):
                return None
        else:
            callee = _lookup(func, self.namespace)
            if not (_takes_message(callee) or callee is gettext_noop):
                return None
        if node.args:
            return node.args[0]
        return next((k.value for k in node.keywords if k.arg in {"message", "text"}), None)

    def visit_Call(self, node: ast.Call) -> None:
        argument = self._message_argument(node)
        if argument is not None:
            where = Location(self.path, node.lineno)
            strings = _strings(argument, self.namespace)
            if strings is not None:
                for msgid in strings:
                    self.into.add(msgid, where)
            elif not (
                isinstance(argument, ast.Name)
                and self.parameters
                and argument.id in self.parameters[-1]
            ):
                self.into.dynamic.append(where)
        self.generic_visit(node)


def scan_source(
    source: str, namespace: Mapping[str, Any], path: str, into: Extraction | None = None
) -> Extraction:
    """The messages of one module's source; `namespace` resolves its names."""
    extraction = into if into is not None else Extraction()
    _Scanner(namespace, path, extraction).visit(ast.parse(source, filename=path))
    return extraction


def _modules(package: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative.startswith(SKIPPED):
            continue
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(parts)


def extract(package: Path = PACKAGE) -> Extraction:
    """Every message of every module of the egide package."""
    extraction = Extraction()
    for path, module_name in _modules(package):
        module = importlib.import_module(module_name)
        scan_source(
            path.read_text(encoding="utf-8"),
            vars(module),
            path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path),
            extraction,
        )
    return extraction


# The catalogue -------------------------------------------------------------------


HEADER = "# French messages of Égide. Updated by tools/messages.py; translate the empty msgstr."
TEAM = "Égide maintainers"


def _with_header(catalogue: Catalog) -> Catalog:
    """The header fields Babel writes, set to ours rather than its placeholders."""
    catalogue.project = "Égide"
    catalogue.version = "1"
    catalogue.msgid_bugs_address = TEAM
    catalogue.last_translator = TEAM
    catalogue.language_team = TEAM
    catalogue.header_comment = HEADER
    catalogue.fuzzy = False
    return catalogue


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as stream:
        return _with_header(read_po(stream, locale="fr", domain="egide", abort_invalid=True))


def _new_catalogue() -> Catalog:
    return _with_header(Catalog(locale="fr", domain="egide"))


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    obsoleted: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.obsoleted or self.revived or self.moved)


def update(catalogue: Catalog, extraction: Extraction) -> Changes:
    """Bring `catalogue` in step with `extraction`, in place; say what changed."""
    changes = Changes()
    wanted = extraction.messages
    for message in list(catalogue):
        msgid = message.id
        if not msgid or not isinstance(msgid, str):
            continue  # the header entry
        if msgid not in wanted:
            changes.obsoleted.append(msgid)
            catalogue.obsolete[msgid] = message
            del catalogue[msgid]
    for msgid, places in sorted(wanted.items()):
        # Paths only (line 0 is not written): line numbers would make every edit of
        # a module stale the catalogue.
        locations = [(path, 0) for path in sorted({p.path for p in places})]
        existing = catalogue.get(msgid)
        if existing is not None:
            if sorted({path for path, _ in existing.locations}) != [p for p, _ in locations]:
                changes.moved.append(msgid)
                existing.locations = locations
            continue
        old = catalogue.obsolete.pop(msgid, None)
        if old is not None:
            changes.revived.append(msgid)
            catalogue.add(msgid, old.string, locations=locations, flags=old.flags)
        else:
            changes.added.append(msgid)
            catalogue.add(msgid, "", locations=locations)
    return changes


def render(catalogue: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalogue, width=100, sort_output=True, include_previous=False)
    return buffer.getvalue()


def _report(changes: Changes, extraction: Extraction, echo: Callable[[str], None]) -> None:
    for title, items in (
        ("new (msgstr to translate)", changes.added),
        ("vanished (now obsolete)", changes.obsoleted),
        ("back from obsolete", changes.revived),
        ("moved (locations updated)", changes.moved),
    ):
        for msgid in items:
            echo(f"{title}: {msgid!r}")
    for where in extraction.dynamic:
        echo(f"not extractable (not a constant string): {where}")


def untranslated(catalogue: Catalog) -> Iterable[str]:
    return (m.id for m in catalogue if m.id and isinstance(m.id, str) and not m.string)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if the catalogue is stale"
    )
    options = parser.parse_args(argv)
    path = catalogue_path("fr")
    catalogue = read_catalogue(path) if path.exists() else _new_catalogue()
    extraction = extract()
    changes = update(catalogue, extraction)
    echo = print  # the tool's output is for the person who runs it
    _report(changes, extraction, echo)
    missing = list(untranslated(catalogue))
    for msgid in missing:
        echo(f"untranslated: {msgid!r}")
    if options.check:
        stale = bool(changes) or not path.exists()
        if stale:
            echo(f"{path} is out of date: run python tools/messages.py")
        return 1 if stale or missing else 0
    if changes or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render(catalogue))
        echo(f"updated {path}")
    else:
        echo(f"{path} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
