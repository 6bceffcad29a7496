"""`egide fsck`, `egide gc` and `egide keys rotate/recover`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from egide.core.blobstore.base import make_key
from tests.cli.conftest import Cli, mode_of, said

REPORT = "cardio/dossier/cr.txt"


@pytest.fixture
def stored(cli: Cli, alice: str) -> dict[str, bytes]:
    """Two files in `cardio`, one in a folder; their contents by vault path."""
    files = {REPORT: os.urandom(200_000), "cardio/ecg.bin": os.urandom(50_000)}
    cli.ok("mkdir", "cardio/dossier", "-u", alice)
    for target, data in files.items():
        cli.ok("put", "-", target, "-u", alice, stdin=data)
    return files


def blob_of(cli: Cli, size_at_least: int) -> Path:
    """The one blob at least this large (the files above differ in size)."""
    (blob,) = [b for b in cli.blobs() if b.stat().st_size >= size_at_least]
    return blob


def assert_readable(cli: Cli, files: dict[str, bytes]) -> None:
    for target, data in files.items():
        assert cli.ok("get", target, "-", "-u", "alice").stdout_bytes == data


# fsck -------------------------------------------------------------------------


def test_fsck_of_a_clean_store(cli: Cli, stored: dict[str, bytes]) -> None:
    result = cli.ok("fsck")

    assert "Checked 2 files" in said(result)
    assert "Store clean." in said(result)
    report = cli.json("fsck")
    assert report["clean"] is True
    assert report["checked"] == 2
    assert report["bytes_checked"] == sum(len(d) for d in stored.values())


def test_fsck_names_a_damaged_file_by_its_path(cli: Cli, stored: dict[str, bytes]) -> None:
    blob = blob_of(cli, 200_000)
    damaged = bytearray(blob.read_bytes())
    damaged[len(damaged) // 2] ^= 0x40
    blob.write_bytes(bytes(damaged))

    result = cli("fsck")

    assert result.exit_code == 1
    assert f"BAD {REPORT}: unreadable" in said(result)
    assert "failed its integrity check" in said(result)
    assert "cardio/ecg.bin" not in said(result)
    assert "Problems found." in said(result)
    report = cli("fsck", "--json")
    assert report.exit_code == 1
    payload = json.loads(report.stdout)
    assert payload["clean"] is False
    assert [(p["space"], p["path"]) for p in payload["problems"]] == [("cardio", "/dossier/cr.txt")]


def test_fsck_names_a_damaged_file_in_the_trash(
    cli: Cli, stored: dict[str, bytes], alice: str
) -> None:
    cli.ok("rm", "cardio/dossier", "-u", alice)
    blob = blob_of(cli, 200_000)
    damaged = bytearray(blob.read_bytes())
    damaged[len(damaged) // 2] ^= 0x40
    blob.write_bytes(bytes(damaged))

    result = cli("fsck")

    assert result.exit_code == 1
    assert "BAD cardio (in the trash) cr.txt: unreadable" in said(result)


def test_fsck_reports_a_missing_blob(cli: Cli, stored: dict[str, bytes]) -> None:
    blob_of(cli, 200_000).unlink()

    result = cli("fsck")

    assert result.exit_code == 1
    assert f"BAD {REPORT}: blob missing" in said(result)
    # gc cannot bring the content back, and must not hide the problem.
    cli.ok("gc", "--grace", "0s")
    assert cli("fsck").exit_code == 1


def test_fsck_reports_a_truncated_blob(cli: Cli, stored: dict[str, bytes]) -> None:
    blob = blob_of(cli, 200_000)
    blob.write_bytes(blob.read_bytes()[:-10])

    result = cli("fsck")

    assert result.exit_code == 1
    assert f"BAD {REPORT}: blob size" in said(result)


def test_fsck_and_gc_handle_orphans_and_interrupted_writes(
    cli: Cli, stored: dict[str, bytes]
) -> None:
    # An orphan (published, never committed) and an interrupted write, as a
    # crash would leave them.
    orphan = cli.blob_dir / make_key()
    orphan.parent.mkdir(exist_ok=True)
    shutil.copyfile(blob_of(cli, 200_000), orphan)
    partial = cli.blob_dir / ".partial" / "0123456789abcdef0123456789abcdef.part"
    partial.write_bytes(b"half a blob")

    result = cli("fsck")
    assert result.exit_code == 1
    assert "1 orphan blob(s)" in said(result)
    assert "1 interrupted write(s)" in said(result)
    assert "run `egide gc`" in said(result)

    # Within the grace period, gc keeps both: they may belong to a write in flight.
    kept = cli.json("gc")
    assert (kept["blobs_deleted"], kept["partials_removed"]) == (0, 0)
    assert orphan.exists()
    assert partial.exists()

    swept = cli.json("gc", "--grace", "0s")

    assert (swept["blobs_deleted"], swept["partials_removed"]) == (1, 1)
    assert not orphan.exists()
    assert not partial.exists()
    report = cli.json("fsck")
    assert report["clean"] is True
    assert (report["orphan_blobs"], report["partial_writes"]) == (0, 0)
    assert len(cli.blobs()) == report["checked"] == 2
    assert_readable(cli, stored)


def test_gc_keeps_the_trash_and_old_versions_inside_their_window(
    cli: Cli, stored: dict[str, bytes], alice: str
) -> None:
    cli.ok("put", "-", "cardio/ecg.bin", "-u", alice, stdin=b"new version")
    cli.ok("rm", f"{REPORT}", "-u", alice)

    report = cli.json("gc", "--grace", "0s")

    assert (report["trash_purged"], report["versions_pruned"], report["blobs_deleted"]) == (0, 0, 0)
    assert len(cli.blobs()) == 3
    assert [i["name"] for i in cli.json("trash", "list", "cardio", "-u", alice)] == ["cr.txt"]
    assert len(cli.json("versions", "cardio/ecg.bin", "-u", alice)) == 2
    assert "Trash items purged: 0" in cli.ok("gc").stdout


def test_gc_with_an_unreadable_duration(cli: Cli, recovery_code: str) -> None:
    message = cli.fails(2, "gc", "--grace", "forever")

    assert "s, m, h or d" in message


# keys -------------------------------------------------------------------------


def test_rotate_the_master_key(cli: Cli, stored: dict[str, bytes]) -> None:
    key_before = cli.key_file.read_bytes()
    escrow_before = cli.escrow_file.read_bytes()

    report = cli.json("keys", "rotate")

    assert report["new_key_id"] == "m2"
    assert report["rewrapped"] >= 1
    assert cli.key_file.read_bytes() != key_before
    assert cli.escrow_file.read_bytes() != escrow_before
    assert mode_of(cli.key_file) == 0o600
    assert_readable(cli, stored)
    assert cli.json("fsck")["clean"] is True


def test_rotate_a_space_key(cli: Cli, stored: dict[str, bytes], alice: str) -> None:
    blobs_before = {b: b.read_bytes() for b in cli.blobs()}

    result = cli.ok("keys", "rotate", "--space", "cardio")

    assert "is current" in said(result)
    # No blob is re-encrypted: they are byte for byte what they were.
    assert {b: b.read_bytes() for b in cli.blobs()} == blobs_before
    assert_readable(cli, stored)
    cli.ok("put", "-", "cardio/after.txt", "-u", alice, stdin=b"under the new key")
    assert cli.ok("get", "cardio/after.txt", "-", "-u", alice).stdout_bytes == b"under the new key"


def test_rotate_an_unknown_space(cli: Cli, recovery_code: str) -> None:
    cli.fails(5, "keys", "rotate", "--space", "nowhere")


def test_recover_a_lost_key_file(cli: Cli, stored: dict[str, bytes], recovery_code: str) -> None:
    # After a rotation, so the escrow must give back both master keys.
    cli.ok("keys", "rotate")
    cli.key_file.unlink()

    lost = cli.fails(13, "ls", "cardio", "-u", "alice")
    assert "does not exist" in lost
    assert "egide keys recover" in lost

    result = cli.ok("keys", "recover", stdin=recovery_code + "\n")

    assert "Key file rebuilt" in said(result)
    assert mode_of(cli.key_file) == 0o600
    assert_readable(cli, stored)
    assert cli.json("fsck")["clean"] is True


def test_recover_accepts_the_code_typed_loosely(
    cli: Cli, stored: dict[str, bytes], recovery_code: str
) -> None:
    cli.key_file.unlink()

    cli.ok("keys", "recover", stdin=recovery_code.lower().replace("-", " ") + "\n")

    assert_readable(cli, stored)


@pytest.mark.parametrize("typo", ["swap", "short", "bad-character"])
def test_recover_with_a_mistyped_code_writes_nothing(
    cli: Cli, stored: dict[str, bytes], recovery_code: str, typo: str
) -> None:
    cli.key_file.unlink()
    if typo == "swap":
        # Two neighbouring characters exchanged: the checksum catches it.
        i = next(
            i
            for i in range(len(recovery_code) - 1)
            if recovery_code[i : i + 2].isalpha() and recovery_code[i] != recovery_code[i + 1]
        )
        code = recovery_code[:i] + recovery_code[i + 1] + recovery_code[i] + recovery_code[i + 2 :]
        expected = "mistyped"
    elif typo == "short":
        code = recovery_code[:-6]
        expected = "should have 55"
    else:
        code = recovery_code[:-1] + "0"
        expected = "A 0 is the letter O"

    message = cli.fails(2, "keys", "recover", stdin=code + "\n")

    assert expected in message
    assert not cli.key_file.exists()
    assert list(cli.key_file.parent.iterdir()) == []


def test_recover_never_overwrites_a_key_file(cli: Cli, recovery_code: str) -> None:
    before = cli.key_file.read_bytes()

    message = cli.fails(6, "keys", "recover", stdin=recovery_code + "\n")

    assert "already exists" in message
    assert cli.key_file.read_bytes() == before


def test_recover_with_an_empty_stdin(cli: Cli, recovery_code: str) -> None:
    cli.key_file.unlink()

    message = cli.fails(2, "keys", "recover", stdin="")

    assert "recovery code on standard input" in message
    assert not cli.key_file.exists()


@pytest.mark.parametrize(
    "command",
    [("ls", "cardio", "-u", "alice"), ("user", "list"), ("fsck",), ("keys", "rotate")],
    ids=lambda c: "-".join(c[:2]),
)
def test_a_key_file_readable_by_others_stops_every_command(
    cli: Cli, stored: dict[str, bytes], command: tuple[str, ...]
) -> None:
    before = cli.key_file.read_bytes()
    cli.key_file.chmod(0o644)

    message = cli.fails(13, *command)

    assert f"chmod 600 {cli.key_file}" in message
    assert "mode 0644" in message
    assert cli.key_file.read_bytes() == before
    cli.key_file.chmod(0o600)
    assert_readable(cli, stored)


def test_a_damaged_key_file_says_how_to_rebuild_it(cli: Cli, recovery_code: str) -> None:
    cli.key_file.write_text("garbage")

    message = cli.fails(13, "user", "list")

    assert "damaged" in message
    assert "egide keys recover" in message
