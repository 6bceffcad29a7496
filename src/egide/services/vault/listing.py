"""Folder listings, kept per process and proved fresh by the rows they come from.

Listing a folder of 10,000 entries decrypts, dates and sorts 10,000 names,
and issue 3 (item 8) wants it in under 100 ms at p99. A listing is a function
of its folder's child rows, and only a few columns of those rows ever change:
the sealed name and the key that sealed it (rename, key rotation), the
current version and `updated_at` (new version, rename), and which rows are
children at all (create, copy, move, delete, restore, purge). A node's kind
and creation date are set once, and a version id names one size and one
content forever (it is the file's ETag). So the `Stamp`s of a folder's
children, read in the listing's own transaction, prove a listing built from
the same stamps to be the folder's listing now, whichever process changed
the tree meanwhile: nothing is invalidated, so no write path can forget to,
and a listing is never served on trust.

Reading 10,000 stamps still takes half of such a request. On SQLite a
cheaper proof often holds: when nothing at all was committed to the
database since a listing was last proved through the same connection
(`Listings.mark`), it is still the listing, rows unread. On PostgreSQL
every listing is proved by its rows.

When the stamps differ, the next listing is made from the last one: the
children whose stamps it knows keep their items, sort keys and per-item
JSON (the same objects), and only the new stamps are read by id and
decrypted. A rename in a folder of 10,000 entries then costs about a
tenth of a first listing instead of as much.

Plaintext names stay in this process's memory, as they do while any request
is served; nothing here writes them anywhere.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import select, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import TypeCoerce
from sqlalchemy.types import NullType

from egide.core.crypto.keys import fold_name
from egide.core.db.models import Content, Node, Version
from egide.services.vault.tree import FILE, FOLDER, Tree
from egide.services.vault.types import NodeInfo

#: A child row as far as a listing can tell it changed: node id, sealed name,
#: the key that sealed it, current version id and `updated_at` (as stored).
Stamp = tuple[str, bytes, str, str | None, object]

T = TypeVar("T")

#: SQLite's data version and this connection's total changes (`Listings.mark`).
Mark = tuple[int, int]

#: Where a pooled connection keeps, per folder, the last proof made through it.
_PROOFS = "egide.listings.proofs"
#: Proofs a connection keeps, at most: beyond, those of dropped listings go.
_MAX_PROOFS = 256

#: Entries (all folders together) a process keeps: about 1.5 KB of memory each,
#: stamp, item and its JSON (75 MB at most).
MAX_CACHED_ENTRIES = 50_000

#: New or changed children read by id into the next listing, at most; beyond,
#: the whole folder is read again (one query instead of several).
MAX_PATCHED = 500


class FolderListing:
    """A folder's children in listing order: folders first, then by name, case-insensitive.

    Immutable, and shared by every request that finds the folder's rows
    unchanged, so whatever is computed from the items (`derived`) is worth
    keeping beside them.
    """

    __slots__ = (
        "__weakref__",
        "_base",
        "_by_stamp",
        "_derived",
        "_keys",
        "_per_item",
        "_prefix",
        "items",
    )

    def __init__(
        self,
        prefix: str,
        by_stamp: dict[Stamp, NodeInfo],
        base: FolderListing | None = None,
    ) -> None:
        self._prefix = prefix
        self._by_stamp = by_stamp
        self._derived: dict[Callable[[FolderListing], object], object] = {}
        self._per_item: dict[Callable[[NodeInfo], object], tuple[object, ...]] = {}
        #: The listing this one was built from, whose items it shares, until
        #: what is kept per item is computed (then dropped: no chain of them).
        self._base = base
        if base is not None:
            base._base = None
        # Sort keys by item identity, those of shared items taken from the base.
        known = {} if base is None else base._keys
        self._keys: dict[int, tuple[bool, str, str]] = {
            id(item): known.get(id(item)) or _order(item) for item in by_stamp.values()
        }
        self.items: tuple[NodeInfo, ...] = tuple(
            sorted(by_stamp.values(), key=lambda item: self._keys[id(item)])
        )

    def matches(self, prefix: str, stamps: Sequence[Stamp]) -> bool:
        """Whether this is the listing of children whose rows have exactly these stamps."""
        by_stamp = self._by_stamp
        return (
            prefix == self._prefix
            and len(stamps) == len(by_stamp)
            and all(map(by_stamp.__contains__, stamps))  # stamps are unique: ids are
        )

    def known(self, prefix: str, stamp: Stamp) -> NodeInfo | None:
        """The item of an unchanged child, to build the next listing without decrypting it."""
        return self._by_stamp.get(stamp) if prefix == self._prefix else None

    def derived(self, make: Callable[[FolderListing], T]) -> T:
        """`make(self)`, computed once per listing and `make` (say, the items' JSON)."""
        done = self._derived.get(make)
        if done is None:
            # Two requests may both compute it: the same value, and the first kept.
            done = self._derived.setdefault(make, make(self))
        return cast("T", done)

    def per_item(self, make: Callable[[NodeInfo], T]) -> tuple[T, ...]:
        """`make(item)` for each item, computed once per item: an item this listing
        shares with the one it was built from (the same object) keeps its value."""
        done = self._per_item.get(make)
        if done is None:
            base, self._base = self._base, None
            before = None if base is None else base._per_item.get(make)
            if base is None or before is None:
                done = tuple(map(make, self.items))
            else:
                # Identity, not equality: the base holds its items alive, so an
                # id seen there is the same object here.
                kept = {id(item): value for item, value in zip(base.items, before, strict=True)}
                done = tuple(
                    kept[id(item)] if id(item) in kept else make(item) for item in self.items
                )
            done = self._per_item.setdefault(make, done)
        return cast("tuple[T, ...]", done)


class Listings:
    """The latest listing of the folders this process listed last (least recent dropped)."""

    def __init__(self, tree: Tree, *, sqlite: bool, max_entries: int = MAX_CACHED_ENTRIES) -> None:
        self.tree = tree
        self.sqlite = sqlite
        self.max_entries = max_entries
        self._latest: OrderedDict[str, FolderListing] = OrderedDict()
        self._lock = threading.Lock()

    def mark(self, session: Session) -> Mark | None:
        """On SQLite, a mark that stays the same while nothing is committed to the database.

        `PRAGMA data_version` changes when another connection, of any process,
        commits, and `total_changes()` when this connection writes (SQLite's
        documentation of both): while the two stay the same on one connection,
        the database is the same, and a listing proved fresh through that
        connection still is. Read it first in a transaction, so that it is
        never newer than what the transaction reads. PostgreSQL has no such
        mark (None): each listing there is proved by its rows.
        """
        if not self.sqlite:
            return None
        connection = session.connection()
        version = connection.exec_driver_sql("PRAGMA data_version").scalar_one()
        changes = connection.exec_driver_sql("SELECT total_changes()").scalar_one()
        return int(version), int(changes)

    def of(self, session: Session, folder_id: str, prefix: str, mark: Mark | None) -> FolderListing:
        """The listing of `folder_id`, whose children's paths start with `prefix`.

        Runs in the caller's transaction, whose `mark` was read first, after
        the caller has checked that the actor may list the folder.
        """
        proofs: dict[str, _Proof] = session.connection().info.setdefault(_PROOFS, {})
        latest = self._get(folder_id)
        listing: FolderListing | None = None
        if latest is not None:
            proof = proofs.get(folder_id)
            if mark is not None and proof is not None and proof.holds(latest, prefix, mark):
                return latest
            stamps = _stamps(session, folder_id)
            if latest.matches(prefix, stamps):
                _note(proofs, folder_id, _Proof(weakref.ref(latest), prefix, mark))
                return latest
            listing = self._patch(session, prefix, latest, stamps)
        if listing is None:
            listing = self._build(session, folder_id, prefix, latest)
        self._put(folder_id, listing)
        _note(proofs, folder_id, _Proof(weakref.ref(listing), prefix, mark))
        return listing

    def _patch(
        self, session: Session, prefix: str, latest: FolderListing, stamps: Sequence[Stamp]
    ) -> FolderListing | None:
        """The next listing from the last one and the children's stamps now, reading
        and decrypting only the children whose stamps are new; None when too many are.

        A node's kind and creation date, and a version's size and digest, never
        change, so they are read by id: whatever snapshot each statement sees
        (PostgreSQL reads each in its own), they belong with the stamp read
        before. A child gone meanwhile (purged): None, and a full build.
        """
        by_stamp: dict[Stamp, NodeInfo] = {}
        new: list[Stamp] = []
        for stamp in stamps:
            item = latest.known(prefix, stamp)
            if item is None:
                new.append(stamp)
            else:
                by_stamp[stamp] = item
        if len(new) > MAX_PATCHED:
            return None
        nodes = {
            node_id: (kind, created)
            for node_id, kind, created in _tuples(
                session,
                select(Node.id, Node.kind, type_coerce(Node.created_at, NullType())).where(
                    Node.id.in_([stamp[0] for stamp in new])
                ),
            )
        }
        version_ids = [stamp[3] for stamp in new if stamp[3] is not None]
        versions = {
            version_id: (size, sha256)
            for version_id, size, sha256 in (
                _tuples(
                    session,
                    select(Version.id, Version.size, Content.sha256)
                    .join(Content, Content.id == Version.content_id)
                    .where(Version.id.in_(version_ids)),
                )
                if version_ids
                else ()
            )
        }
        for stamp in new:
            node_id, version_id = stamp[0], stamp[3]
            if node_id not in nodes or (version_id is not None and version_id not in versions):
                return None
            size, sha256 = versions[version_id] if version_id is not None else (None, None)
            by_stamp[stamp] = self._item(session, prefix, stamp, (*nodes[node_id], size, sha256))
        return FolderListing(prefix, by_stamp, base=latest)

    def _item(
        self, session: Session, prefix: str, stamp: Stamp, details: tuple[Any, ...]
    ) -> NodeInfo:
        """The item of a child from its stamp and (kind, created, size, sha256)."""
        node_id, name_enc, key_id, version_id, updated = stamp
        kind, created, size, sha256 = details
        name = self.tree.open_name(session, key_id, node_id, name_enc)
        created_at = _utc(created)
        return NodeInfo(
            node_id,
            name,
            kind,
            prefix + name,
            (size or 0) if kind == FILE else 0,
            created_at,
            created_at if updated == created else _utc(updated),
            version_id,
            sha256,
        )

    def _build(
        self, session: Session, folder_id: str, prefix: str, latest: FolderListing | None
    ) -> FolderListing:
        """A new listing, from the rows themselves: its stamps are those of what it shows."""
        query = (
            select(
                *_stamp_columns(),
                Node.kind,
                type_coerce(Node.created_at, NullType()),
                Version.size,
                Content.sha256,
            )
            .outerjoin(Version, Version.id == Node.current_version_id)
            .outerjoin(Content, Content.id == Version.content_id)
            .where(Node.parent_id == folder_id)
        )
        by_stamp: dict[Stamp, NodeInfo] = {}
        for row in _tuples(session, query):
            node_id, name_enc, key_id, version_id, updated, kind, created, size, sha256 = row
            stamp = (node_id, name_enc, key_id, version_id, updated)
            item = latest.known(prefix, stamp) if latest is not None else None
            if item is None:
                item = self._item(session, prefix, stamp, (kind, created, size, sha256))
            by_stamp[stamp] = item
        return FolderListing(prefix, by_stamp, base=latest)

    def _get(self, folder_id: str) -> FolderListing | None:
        with self._lock:
            listing = self._latest.get(folder_id)
            if listing is not None:
                self._latest.move_to_end(folder_id)
            return listing

    def _put(self, folder_id: str, listing: FolderListing) -> None:
        with self._lock:
            self._latest[folder_id] = listing
            self._latest.move_to_end(folder_id)
            total = sum(len(kept.items) for kept in self._latest.values())
            # The newest goes last: alone, only if it is larger than the whole budget.
            while total > self.max_entries:
                _, dropped = self._latest.popitem(last=False)
                total -= len(dropped.items)


@dataclass(frozen=True)
class _Proof:
    """A listing proved fresh through one connection, when its mark was `mark`."""

    listing: weakref.ref[FolderListing]
    prefix: str
    mark: Mark | None

    def holds(self, listing: FolderListing, prefix: str, mark: Mark) -> bool:
        """Whether `listing` is still fresh: proved here, and nothing committed since."""
        return self.listing() is listing and self.prefix == prefix and self.mark == mark


def _note(proofs: dict[str, _Proof], folder_id: str, proof: _Proof) -> None:
    proofs[folder_id] = proof
    if len(proofs) > _MAX_PROOFS:
        for dropped in [f for f, p in proofs.items() if p.listing() is None]:
            del proofs[dropped]
        if len(proofs) > _MAX_PROOFS:
            proofs.clear()


def _stamp_columns() -> tuple[
    InstrumentedAttribute[str],
    InstrumentedAttribute[bytes],
    InstrumentedAttribute[str],
    InstrumentedAttribute[str | None],
    TypeCoerce[Any],
]:
    # Columns, not ORM objects, and the date read without its column type: for
    # 10,000 entries, an identity map, instance state and type processors per
    # row took more than half of the listing's time.
    return (
        Node.id,
        Node.name_enc,
        Node.name_key_id,
        Node.current_version_id,
        type_coerce(Node.updated_at, NullType()),
    )


def _stamps(session: Session, folder_id: str) -> Sequence[Stamp]:
    """The stamps of the folder's children now."""
    return _tuples(session, select(*_stamp_columns()).where(Node.parent_id == folder_id))


def _tuples(session: Session, query: Executable) -> Sequence[Any]:
    """The rows of a query of plain columns, as the driver gives them: tuples.

    Past SQLAlchemy's `Row`s, which for 10,000 entries cost as much as the
    query, and compare ten times slower than tuples. Right only for columns
    that need no result processing: strings, bytes, numbers, and dates read
    without their type.
    """
    result = session.connection().execute(query)
    try:
        rows = result.cursor.fetchall()
    finally:
        result.close()
    return rows


def _order(item: NodeInfo) -> tuple[bool, str, str]:
    return item.kind != FOLDER, fold_name(item.name), item.name


def _utc(value: object) -> dt.datetime:
    """A `UTCDateTime` column read without its type: the same aware UTC datetime.

    SQLite gives the text SQLAlchemy stored (naive UTC, ISO 8601), PostgreSQL
    a datetime; `core/db/base.py` (UTCDateTime) is the reference.
    """
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise TypeError("UTCDateTime column returned a non-datetime")
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
