"""File commands: put, get, ls, mkdir, mv, cp, rm, trash, versions, restore."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

HIDDEN = "No such file, folder or space, or you do not have access to it."


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def local_file(tmp_path: Path, name: str, data: bytes) -> str:
    (tmp_path / name).write_bytes(data)
    return name


def fetch(cli: Cli, target: str, user: str = "alice", *options: str) -> bytes:
    return bytes(cli.ok("get", target, "-", "-u", user, *options).stdout_bytes)


def test_put_get_round_trip_of_a_few_mib(cli: Cli, alice: str, tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 12345)
    local_file(tmp_path, "scan.pdf", data)

    stored = cli.json("put", "scan.pdf", "cardio/scan.pdf", "-u", alice)

    assert stored["size"] == len(data)
    assert stored["sha256"] == sha256(data)
    assert stored["number"] == 1
    result = cli.ok("get", "cardio/scan.pdf", "copy.pdf", "-u", alice)
    assert sha256((tmp_path / "copy.pdf").read_bytes()) == sha256(data)
    assert "Saved" in result.output
    # The hidden part file is gone once the download is complete.
    assert not (tmp_path / ".copy.pdf.egide-part").exists()


def test_put_from_stdin_and_get_to_stdout(cli: Cli, alice: str) -> None:
    data = os.urandom(2 * (1 << 20) + 7)

    cli.ok("put", "-", "cardio/from-stdin.bin", "-u", alice, stdin=data)

    assert sha256(fetch(cli, "cardio/from-stdin.bin")) == sha256(data)
    assert cli.ls("cardio")["from-stdin.bin"]["size"] == len(data)


def test_an_empty_file(cli: Cli, alice: str) -> None:
    cli.ok("put", "-", "cardio/empty.txt", "-u", alice, stdin=b"")

    assert fetch(cli, "cardio/empty.txt") == b""
    assert cli.ls("cardio")["empty.txt"]["size"] == 0


def test_get_never_overwrites_without_force(cli: Cli, alice: str, tmp_path: Path) -> None:
    local_file(tmp_path, "cr.txt", b"vault version")
    cli.ok("put", "cr.txt", "cardio/cr.txt", "-u", alice)
    mine = tmp_path / "mine.txt"
    mine.write_bytes(b"my local edits")

    message = cli.fails(6, "get", "cardio/cr.txt", "mine.txt", "-u", alice)

    assert "--force" in message
    assert mine.read_bytes() == b"my local edits"

    cli.ok("get", "cardio/cr.txt", "mine.txt", "-u", alice, "--force")

    assert mine.read_bytes() == b"vault version"


def test_put_of_a_missing_local_file(cli: Cli, alice: str) -> None:
    message = cli.fails(2, "put", "nothing-here.pdf", "cardio/x.pdf", "-u", alice)

    assert "nothing-here.pdf is not a readable file" in message
    assert cli.ls("cardio") == {}


def test_ls(cli: Cli, alice: str, tmp_path: Path) -> None:
    local_file(tmp_path, "a.txt", b"a" * 1500)
    cli.ok("put", "a.txt", "cardio/a.txt", "-u", alice)
    cli.ok("mkdir", "cardio/dossier", "-u", alice)

    listing = cli.ls("cardio")

    assert {name: (i["kind"], i["size"]) for name, i in listing.items()} == {
        "a.txt": ("file", 1500),
        "dossier": ("folder", 0),
    }
    assert listing["a.txt"]["sha256"] == sha256(b"a" * 1500)
    table = cli.ok("ls", "cardio", "-u", alice).stdout
    assert "dossier/" in table
    assert "1.5 KiB" in table


def test_mkdir(cli: Cli, alice: str) -> None:
    message = cli.fails(6, "mkdir", "cardio/a/b/c", "-u", alice)
    assert "does not exist" in message
    assert cli.ls("cardio") == {}

    cli.ok("mkdir", "-p", "cardio/a/b/c", "-u", alice)

    assert cli.ls("cardio/a/b")["c"]["kind"] == "folder"
    assert "already" in cli.fails(6, "mkdir", "cardio/a", "-u", alice)


def test_put_into_a_missing_folder_says_to_create_it(cli: Cli, alice: str) -> None:
    message = cli.fails(6, "put", "-", "cardio/nope/x.txt", "-u", alice, stdin=b"x")

    assert "The folder /nope does not exist. Create it first." in message
    assert cli.blobs() == []


def test_mv(cli: Cli, alice: str) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"compte rendu")
    cli.ok("mkdir", "cardio/2026", "-u", alice)

    cli.ok("mv", "cardio/cr.txt", "cardio/2026/cr-final.txt", "-u", alice)

    assert "cr.txt" not in cli.ls("cardio")
    assert fetch(cli, "cardio/2026/cr-final.txt") == b"compte rendu"


def test_mv_to_another_space_says_to_copy(cli: Cli, alice: str) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"x")

    message = cli.fails(2, "mv", "cardio/cr.txt", "neuro/cr.txt", "-u", alice)

    assert "use cp" in message
    assert "cr.txt" in cli.ls("cardio")


def test_cp_inside_a_space_shares_the_stored_bytes(cli: Cli, alice: str) -> None:
    data = os.urandom(100_000)
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=data)

    cli.ok("cp", "cardio/cr.txt", "cardio/copie.txt", "-u", alice)

    assert fetch(cli, "cardio/copie.txt") == data
    assert fetch(cli, "cardio/cr.txt") == data
    assert len(cli.blobs()) == 1
    assert cli.json("space", "list")[0]["used_bytes"] == 2 * len(data)


def test_cp_to_another_space(cli: Cli, alice: str) -> None:
    data = os.urandom(70_000)
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=data)
    cli.ok("space", "create", "neuro")
    cli.ok("space", "grant", "neuro", f"user:{alice}", "contributor")

    cli.ok("cp", "cardio/cr.txt", "neuro/cr.txt", "-u", alice)

    assert fetch(cli, "neuro/cr.txt") == data
    # Re-encrypted under the other space's keys: a blob of its own.
    assert len(cli.blobs()) == 2
    assert "already exists" in cli.fails(7, "cp", "cardio/cr.txt", "neuro/cr.txt", "-u", alice)


def test_rm_and_trash_restore(cli: Cli, alice: str) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"to keep")

    cli.ok("rm", "cardio/cr.txt", "-u", alice)

    assert cli.ls("cardio") == {}
    cli.fails(5, "get", "cardio/cr.txt", "-", "-u", alice)
    items = cli.json("trash", "list", "cardio", "-u", alice)
    assert [(i["name"], i["kind"], i["size"]) for i in items] == [("cr.txt", "file", 7)]

    cli.ok("trash", "restore", "cardio", items[0]["id"], "-u", alice)

    assert fetch(cli, "cardio/cr.txt") == b"to keep"
    assert cli.json("trash", "list", "cardio", "-u", alice) == []


def test_trash_restore_under_another_name(cli: Cli, alice: str) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"old")
    cli.ok("rm", "cardio/cr.txt", "-u", alice)
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"new")
    (item,) = cli.json("trash", "list", "cardio", "-u", alice)

    message = cli.fails(6, "trash", "restore", "cardio", item["id"], "-u", alice)
    assert "another name" in message

    cli.ok("trash", "restore", "cardio", item["id"], "--name", "cr-old.txt", "-u", alice)

    assert fetch(cli, "cardio/cr-old.txt") == b"old"
    assert fetch(cli, "cardio/cr.txt") == b"new"


def test_trash_table(cli: Cli, alice: str) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"x")
    cli.ok("rm", "cardio/cr.txt", "-u", alice)

    assert "cr.txt" in cli.ok("trash", "list", "cardio", "-u", alice).stdout


def test_versions_and_restore(cli: Cli, alice: str) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"first")
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"second draft")

    versions = cli.json("versions", "cardio/cr.txt", "-u", alice)

    assert [v["number"] for v in versions] == [2, 1]
    assert [v["is_current"] for v in versions] == [True, False]
    assert [v["size"] for v in versions] == [12, 5]
    first = versions[1]["id"]
    assert fetch(cli, "cardio/cr.txt", "alice", "--version", first) == b"first"

    result = cli.ok("restore", "cardio/cr.txt", "--version", first, "-u", alice)

    assert "restored as version" in result.output
    assert fetch(cli, "cardio/cr.txt") == b"first"
    after = cli.json("versions", "cardio/cr.txt", "-u", alice)
    assert [v["number"] for v in after] == [3, 2, 1]
    assert after[0]["restored_from"] == first
    assert after[0]["sha256"] == sha256(b"first")
    assert "*" in cli.ok("versions", "cardio/cr.txt", "-u", alice).stdout


def test_restore_of_an_unknown_version(cli: Cli, alice: str) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"x")

    cli.fails(5, "restore", "cardio/cr.txt", "--version", "no-such-version", "-u", alice)


def test_put_if_match(cli: Cli, alice: str) -> None:
    v1 = cli.json("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"v1")["id"]
    v2 = cli.json("put", "-", "cardio/cr.txt", "-u", alice, "--if-match", v1, stdin=b"v2")["id"]

    message = cli.fails(
        7, "put", "-", "cardio/cr.txt", "-u", alice, "--if-match", v1, stdin=b"lost edit"
    )

    assert "changed by someone else" in message
    assert "merge your changes" in message
    assert fetch(cli, "cardio/cr.txt") == b"v2"
    assert cli.ls("cardio")["cr.txt"]["version_id"] == v2
    assert len(cli.blobs()) == 2
    assert cli.partials() == []


def test_put_no_overwrite(cli: Cli, alice: str) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, "--no-overwrite", stdin=b"original")

    message = cli.fails(
        7, "put", "-", "cardio/cr.txt", "-u", alice, "--no-overwrite", stdin=b"replacement"
    )

    assert "already exists; nothing was overwritten" in message
    assert fetch(cli, "cardio/cr.txt") == b"original"
    assert len(cli.json("versions", "cardio/cr.txt", "-u", alice)) == 1


# Who acts ---------------------------------------------------------------------

CONTENT_COMMANDS = [
    ("ls", "cardio"),
    ("get", "cardio/cr.txt", "-"),
    ("put", "-", "cardio/new.txt"),
    ("mkdir", "cardio/d"),
    ("rm", "cardio/cr.txt"),
    ("versions", "cardio/cr.txt"),
    ("trash", "list", "cardio"),
]


@pytest.mark.parametrize("command", CONTENT_COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_content_commands_need_a_user(cli: Cli, alice: str, command: tuple[str, ...]) -> None:
    message = cli.fails(2, *command, stdin=b"x")

    assert "--user NAME" in message
    assert "even for administrators" in message


def test_the_user_from_the_environment(
    cli: Cli, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"x")
    monkeypatch.setenv("EGIDE_USER", alice)

    assert cli.ok("get", "cardio/cr.txt", "-").stdout_bytes == b"x"


@pytest.mark.parametrize("command", CONTENT_COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_no_role_answers_like_a_missing_file(
    cli: Cli, alice: str, bob: str, command: tuple[str, ...]
) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"secret")
    missing = tuple(part.replace("cardio", "nowhere") for part in command)

    denied = cli.fails(5, *command, "-u", bob, stdin=b"x")
    absent = cli.fails(5, *missing, "-u", bob, stdin=b"x")

    # The same answer for a space bob may not see and one that does not exist.
    assert denied == absent == f"Error: {HIDDEN}"
    assert fetch(cli, "cardio/cr.txt") == b"secret"


def test_a_file_hidden_by_a_folder_role_answers_like_a_missing_one(
    cli: Cli, alice: str, bob: str
) -> None:
    cli.ok("mkdir", "cardio/public", "-u", alice)
    cli.ok("mkdir", "cardio/private", "-u", alice)
    cli.ok("put", "-", "cardio/public/menu.txt", "-u", alice, stdin=b"menu")
    cli.ok("put", "-", "cardio/private/x.txt", "-u", alice, stdin=b"secret")
    cli.ok("space", "grant", "cardio", f"user:{bob}", "reader", "--path", "public")
    assert fetch(cli, "cardio/public/menu.txt", bob) == b"menu"

    hidden = cli.fails(5, "get", "cardio/private/x.txt", "-", "-u", bob)
    missing = cli.fails(5, "get", "cardio/private/nothing.txt", "-", "-u", bob)
    missing_for_alice = cli.fails(5, "get", "cardio/private/nothing.txt", "-", "-u", alice)

    assert hidden == missing == missing_for_alice == f"Error: {HIDDEN}"


# Quota ------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_quota_exceeded_stores_nothing(cli: Cli, alice: str, tmp_path: Path, source: str) -> None:
    cli.ok("space", "create", "small", "--quota", "1M", "--manager", alice)
    first = os.urandom(600_000)
    cli.ok("put", "-", "small/first.bin", "-u", alice, stdin=first)
    listing = cli.ls("small")
    blobs = cli.blobs()
    second = os.urandom(600_000)
    local_file(tmp_path, "second.bin", second)

    if source == "file":
        message = cli.fails(8, "put", "second.bin", "small/second.bin", "-u", alice)
    else:
        message = cli.fails(8, "put", "-", "small/second.bin", "-u", alice, stdin=second)

    assert "This space is full" in message
    assert "larger quota" in message
    assert cli.ls("small") == listing
    assert cli.blobs() == blobs
    assert cli.partials() == []
    assert {s["slug"]: s["used_bytes"] for s in cli.json("space", "list")}["small"] == len(first)
    assert cli.json("fsck")["clean"] is True


def test_a_new_version_counts_only_the_difference(cli: Cli, alice: str) -> None:
    cli.ok("space", "create", "small", "--quota", "1M", "--manager", alice)
    cli.ok("put", "-", "small/a.bin", "-u", alice, stdin=os.urandom(700_000))

    # Replacing a 700 kB file by an 800 kB one needs 100 kB more, which fits.
    cli.ok("put", "-", "small/a.bin", "-u", alice, stdin=os.urandom(800_000))

    assert cli.ls("small", alice)["a.bin"]["size"] == 800_000


# Names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        ("cardio/..", '"." and ".." are not allowed as names'),
        ("cardio/dossier/../cr.txt", '"." and ".." are not allowed as names'),
        ("cardio/bad\x07name.txt", "cannot contain control characters"),
        ("cardio/tab\there.txt", "cannot contain control characters"),
        ("cardio/" + "a" * 300, "too long (300 bytes; at most 255)"),
        ("cardio/" + "é" * 150, "too long (300 bytes; at most 255)"),
    ],
    ids=["dot-dot", "dot-dot-inside", "bell", "tab", "300-ascii", "300-bytes-of-utf8"],
)
def test_bad_names_are_refused_with_the_rule(cli: Cli, alice: str, target: str, rule: str) -> None:
    cli.ok("mkdir", "cardio/dossier", "-u", alice)

    put = cli.fails(2, "put", "-", target, "-u", alice, stdin=b"x")
    mkdir = cli.fails(2, "mkdir", target, "-u", alice)

    assert rule in put
    assert rule in mkdir
    assert set(cli.ls("cardio")) == {"dossier"}
    assert cli.blobs() == []


def test_a_255_byte_name_is_allowed(cli: Cli, alice: str) -> None:
    name = "a" * 255

    cli.ok("put", "-", f"cardio/{name}", "-u", alice, stdin=b"x")

    assert set(cli.ls("cardio")) == {name}


def test_names_are_unique_whatever_the_case(cli: Cli, alice: str) -> None:
    cli.ok("mkdir", "cardio/Dossier", "-u", alice)

    cli.fails(6, "mkdir", "cardio/DOSSIER", "-u", alice)
    cli.fails(6, "put", "-", "cardio/dossier", "-u", alice, stdin=b"x")

    assert set(cli.ls("cardio")) == {"Dossier"}


def test_a_target_without_a_space(cli: Cli, alice: str) -> None:
    message = cli.fails(2, "ls", "/", "-u", alice)

    assert "SPACE/PATH" in message


# Damaged data and local problems ------------------------------------------------


def test_get_of_a_damaged_file_leaves_no_local_file(cli: Cli, alice: str, tmp_path: Path) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=os.urandom(300_000))
    (blob,) = cli.blobs()
    damaged = bytearray(blob.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    blob.write_bytes(bytes(damaged))

    message = cli.fails(12, "get", "cardio/cr.txt", "out.txt", "-u", alice)

    assert "failed its integrity check" in message
    assert "restore it from a backup or an earlier version" in message
    assert not (tmp_path / "out.txt").exists()
    assert not (tmp_path / ".out.txt.egide-part").exists()


def test_get_into_a_missing_local_folder_fails_cleanly(
    cli: Cli, alice: str, tmp_path: Path
) -> None:
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"x")

    message = cli.fails(2, "get", "cardio/cr.txt", "no/such/dir/cr.txt", "-u", alice)

    assert "no/such/dir" in message
    assert not (tmp_path / "no").exists()
