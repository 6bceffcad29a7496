"""The embedded key provider: key file, escrow, rotation, recovery (FORMATS.md section 2)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from egide.core.crypto import keys
from egide.core.crypto.errors import (
    InsecureKeyFile,
    IntegrityError,
    InvalidRecoveryCode,
    KeyFileExists,
    KeyUnavailable,
)
from egide.core.crypto.provider import FileKeyProvider, KeyProvider
from egide.core.errors import ErrorKind
from egide.core.types import Secret

SPACE_KEY_ID = "00000000-0000-0000-0000-000000001234/1"


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    """(key file, escrow file), the key file in a directory that does not exist yet."""
    return tmp_path / "secrets" / "egide.keys", tmp_path / "data" / "recovery-escrow.json"


@pytest.fixture
def created(paths: tuple[Path, Path]) -> tuple[FileKeyProvider, str]:
    return FileKeyProvider.create(*paths)


def key_file_json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def master_key_bytes(path: Path) -> list[bytes]:
    document = json.loads(path.read_text())
    return [base64.b64decode(entry["key"]) for entry in document["master_keys"]]


def test_create_writes_owner_only_files_and_round_trips(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, escrow_file = paths
    provider, code = created
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert escrow_file.exists()
    assert len(code.split("-")) == 11
    assert provider.name == "file"
    assert provider.current_master_id() == "m1"
    assert provider.master_ids() == ["m1"]

    space_key = keys.generate_key()
    master_id, wrapped = provider.wrap_space_key(SPACE_KEY_ID, space_key)
    assert master_id == "m1"
    reopened: KeyProvider = FileKeyProvider.open(key_file)
    reopened.check()
    assert reopened.unwrap_space_key(master_id, SPACE_KEY_ID, wrapped) == space_key
    with pytest.raises(IntegrityError):
        reopened.unwrap_space_key(master_id, SPACE_KEY_ID + "x", wrapped)
    with pytest.raises(KeyUnavailable, match="m7"):
        reopened.unwrap_space_key("m7", SPACE_KEY_ID, wrapped)


def test_key_file_format(paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]) -> None:
    document = key_file_json(paths[0])
    assert document["format"] == "egide key file"
    assert document["version"] == 1
    assert document["current"] == "m1"
    [entry] = document["master_keys"]
    assert set(entry) == {"id", "key", "created", "state"}
    assert entry["state"] == "current"
    assert entry["created"].endswith("Z")
    assert len(base64.b64decode(entry["key"])) == 32
    assert len(base64.b64decode(document["recovery_public_key"])) == 32


def test_escrow_never_holds_a_master_key_in_clear(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, escrow_file = paths
    escrow_text = escrow_file.read_bytes()
    for master in master_key_bytes(key_file):
        assert base64.b64encode(master) not in escrow_text
        assert master not in escrow_text
    document = json.loads(escrow_text)
    assert set(document["master_keys"][0]) >= {"id", "ephemeral_public_key", "nonce", "sealed"}


def test_group_or_world_access_is_refused(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, _ = paths
    provider, _ = created
    for mode in (0o644, 0o640, 0o604, 0o620):
        key_file.chmod(mode)
        with pytest.raises(InsecureKeyFile, match=f"chmod 600 {key_file}") as caught:
            FileKeyProvider.open(key_file)
        assert caught.value.kind == ErrorKind.UNAVAILABLE
        assert f"{mode:04o}" in str(caught.value)
        with pytest.raises(InsecureKeyFile):
            provider.check()
    key_file.chmod(0o600)
    provider.check()


def test_missing_key_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(KeyUnavailable, match="egide keys recover") as caught:
        FileKeyProvider.open(tmp_path / "nowhere.keys")
    assert "egide init" in str(caught.value)
    assert caught.value.kind == ErrorKind.UNAVAILABLE


def test_check_reports_a_key_file_that_disappeared(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    provider, _ = created
    paths[0].unlink()
    with pytest.raises(KeyUnavailable):
        provider.check()


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[]", b'{"format": "egide key file", "version": 2}', b"{}"],
)
def test_damaged_key_file_is_unavailable(tmp_path: Path, content: bytes) -> None:
    key_file = tmp_path / "egide.keys"
    key_file.write_bytes(content)
    key_file.chmod(0o600)
    with pytest.raises(KeyUnavailable, match="damaged"):
        FileKeyProvider.open(key_file)


def test_damaged_key_file_message_quotes_no_key(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file = paths[0]
    document = json.loads(key_file.read_text())
    secret = document["master_keys"][0]["key"]
    document["master_keys"][0]["key"] = secret[:-2] + "!!"
    key_file.write_text(json.dumps(document))
    with pytest.raises(KeyUnavailable) as caught:
        FileKeyProvider.open(key_file)
    assert secret[:10] not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_create_refuses_to_overwrite(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, escrow_file = paths
    before = key_file.read_bytes(), escrow_file.read_bytes()
    with pytest.raises(KeyFileExists) as caught:
        FileKeyProvider.create(key_file, escrow_file)
    assert caught.value.kind == ErrorKind.CONFLICT
    # A lost key file with its escrow still there: init must not destroy the escrow.
    key_file.unlink()
    with pytest.raises(KeyFileExists, match="egide keys recover"):
        FileKeyProvider.create(key_file, escrow_file)
    assert escrow_file.read_bytes() == before[1]


def test_rotation_keeps_old_keys_and_makes_the_new_one_current(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, escrow_file = paths
    provider, _ = created
    old_space_key = keys.generate_key()
    old = provider.wrap_space_key(SPACE_KEY_ID, old_space_key)
    assert provider.add_master_key(escrow_file) == "m2"
    assert provider.current_master_id() == "m2"
    assert provider.master_ids() == ["m1", "m2"]
    new_space_key = keys.generate_key()
    new = provider.wrap_space_key(SPACE_KEY_ID, new_space_key)
    assert new[0] == "m2"
    reopened = FileKeyProvider.open(key_file)
    assert reopened.current_master_id() == "m2"
    assert reopened.unwrap_space_key(old[0], SPACE_KEY_ID, old[1]) == old_space_key
    assert reopened.unwrap_space_key(new[0], SPACE_KEY_ID, new[1]) == new_space_key
    states = [e["state"] for e in json.loads(key_file.read_text())["master_keys"]]
    assert states == ["retired", "current"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    escrowed = [e["id"] for e in json.loads(escrow_file.read_text())["master_keys"]]
    assert escrowed == ["m1", "m2"]


def test_a_rotation_by_another_process_is_picked_up(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, escrow_file = paths
    server, _ = created
    cli = FileKeyProvider.open(key_file)
    cli.add_master_key(escrow_file)
    space_key = keys.generate_key()
    master_id, wrapped = cli.wrap_space_key(SPACE_KEY_ID, space_key)
    assert server.unwrap_space_key(master_id, SPACE_KEY_ID, wrapped) == space_key
    assert server.add_master_key(escrow_file) == "m3"


def test_a_running_server_seals_nothing_new_under_a_master_key_rotated_away(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    """`egide keys rotate` while the server runs: the server's next space key,
    audit context and TOTP secret are sealed under the new master key at once."""
    key_file, escrow_file = paths
    server, _ = created
    assert server.current_master_id() == "m1"
    FileKeyProvider.open(key_file).add_master_key(escrow_file)
    assert server.current_master_id() == "m2"
    master_id, wrapped = server.wrap_space_key(SPACE_KEY_ID, keys.generate_key())
    assert master_id == "m2"
    assert server.seal_audit_context("event-1", b"context")[0] == "m2"
    assert server.seal_totp_secret("user-1", b"secret")[0] == "m2"
    assert FileKeyProvider.open(key_file).unwrap_space_key(master_id, SPACE_KEY_ID, wrapped)


def test_recovery_rebuilds_identical_keys(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, escrow_file = paths
    provider, code = created
    wraps = []
    for _ in range(3):
        space_key = keys.generate_key()
        wraps.append((space_key, *provider.wrap_space_key(SPACE_KEY_ID, space_key)))
        provider.add_master_key(escrow_file)
    original = key_file.read_bytes()
    key_file.unlink()

    spaced = " ".join(code.lower().split("-"))
    recovered = FileKeyProvider.recover(escrow_file, spaced, key_file)
    assert recovered.master_ids() == ["m1", "m2", "m3", "m4"]
    assert recovered.current_master_id() == "m4"
    for space_key, master_id, wrapped in wraps:
        assert recovered.unwrap_space_key(master_id, SPACE_KEY_ID, wrapped) == space_key
    space_key = keys.generate_key()
    master_id, wrapped = recovered.wrap_space_key(SPACE_KEY_ID, space_key)
    assert provider.unwrap_space_key(master_id, SPACE_KEY_ID, wrapped) == space_key
    assert key_file_json(key_file) == json.loads(original)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_recovery_refuses_to_overwrite_a_key_file(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, escrow_file = paths
    _, code = created
    with pytest.raises(KeyFileExists):
        FileKeyProvider.recover(escrow_file, code, key_file)


def test_mistyped_recovery_code_is_a_typo_not_a_damaged_escrow(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, escrow_file = paths
    _, code = created
    key_file.unlink()
    position = 12
    replacement = "A" if code[position] != "A" else "B"
    mistyped = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidRecoveryCode, match="mistyped"):
        FileKeyProvider.recover(escrow_file, mistyped, key_file)
    assert not key_file.exists()


def test_code_of_another_vault_is_refused(tmp_path: Path, paths: tuple[Path, Path]) -> None:
    key_file, escrow_file = paths
    FileKeyProvider.create(key_file, escrow_file)
    _, other_code = FileKeyProvider.create(tmp_path / "other.keys", tmp_path / "other.json")
    key_file.unlink()
    with pytest.raises(InvalidRecoveryCode, match="different vaults"):
        FileKeyProvider.recover(escrow_file, other_code, key_file)


@pytest.mark.parametrize("field", ["sealed", "nonce", "ephemeral_public_key", "id"])
def test_altered_escrow_is_an_integrity_error(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str], field: str
) -> None:
    key_file, escrow_file = paths
    _, code = created
    key_file.unlink()
    document = json.loads(escrow_file.read_text())
    entry = document["master_keys"][0]
    if field == "id":
        entry["id"] = "m2"  # the id is bound to the key by the associated data
    else:
        raw = bytearray(base64.b64decode(entry[field]))
        raw[3] ^= 0x10
        entry[field] = base64.b64encode(raw).decode()
    escrow_file.write_text(json.dumps(document))
    with pytest.raises(IntegrityError):
        FileKeyProvider.recover(escrow_file, code, key_file)
    assert not key_file.exists()


def test_malformed_escrow_is_an_integrity_error(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, escrow_file = paths
    _, code = created
    key_file.unlink()
    escrow_file.write_text("{not json")
    with pytest.raises(IntegrityError):
        FileKeyProvider.recover(escrow_file, code, key_file)


def test_crash_between_escrow_and_key_file_writes_loses_no_key(
    monkeypatch: pytest.MonkeyPatch,
    paths: tuple[Path, Path],
    created: tuple[FileKeyProvider, str],
) -> None:
    key_file, escrow_file = paths
    provider, code = created
    space_key = keys.generate_key()
    master_id, wrapped = provider.wrap_space_key(SPACE_KEY_ID, space_key)
    before = key_file.read_bytes()
    real_replace = os.replace

    def crash_on_key_file(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == key_file:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_key_file)
    with pytest.raises(OSError, match="No space left"):
        provider.add_master_key(escrow_file)
    monkeypatch.undo()

    # The key file is untouched, no temporary file is left, the provider still works.
    assert key_file.read_bytes() == before
    assert sorted(p.name for p in key_file.parent.iterdir()) == [key_file.name]
    assert provider.current_master_id() == "m1"
    assert provider.unwrap_space_key(master_id, SPACE_KEY_ID, wrapped) == space_key
    # The escrow got the new key first: recovery yields every key.
    key_file.unlink()
    recovered = FileKeyProvider.recover(escrow_file, code, key_file)
    assert recovered.master_ids() == ["m1", "m2"]
    assert recovered.unwrap_space_key(master_id, SPACE_KEY_ID, wrapped) == space_key


def test_rotation_after_an_interrupted_one_never_reuses_an_id(
    monkeypatch: pytest.MonkeyPatch,
    paths: tuple[Path, Path],
    created: tuple[FileKeyProvider, str],
) -> None:
    key_file, escrow_file = paths
    provider, code = created
    real_replace = os.replace

    def crash_on_key_file(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == key_file:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_key_file)
    with pytest.raises(OSError, match="Input/output"):
        provider.add_master_key(escrow_file)
    monkeypatch.undo()
    assert provider.add_master_key(escrow_file) == "m3"
    space_key = keys.generate_key()
    master_id, wrapped = provider.wrap_space_key(SPACE_KEY_ID, space_key)
    key_file.unlink()
    recovered = FileKeyProvider.recover(escrow_file, code, key_file)
    assert recovered.current_master_id() == "m3"
    assert recovered.unwrap_space_key(master_id, SPACE_KEY_ID, wrapped) == space_key


def test_rotation_needs_this_vaults_escrow(
    tmp_path: Path, paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    provider, _ = created
    with pytest.raises(KeyUnavailable, match="does not exist"):
        provider.add_master_key(tmp_path / "missing.json")
    FileKeyProvider.create(tmp_path / "other.keys", tmp_path / "other.json")
    with pytest.raises(KeyUnavailable, match="another vault"):
        provider.add_master_key(tmp_path / "other.json")
    assert provider.master_ids() == ["m1"]


def test_nothing_prints_a_key(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, escrow_file = paths
    provider, _ = created
    provider.add_master_key(escrow_file)
    masters = master_key_bytes(key_file)
    # The private key ring is what must not leak, through any repr.
    texts = [repr(provider), str(provider), repr(provider._ring), repr(vars(provider))]
    for text in texts:
        for master in masters:
            assert base64.b64encode(master).decode() not in text
            assert master.hex() not in text
            assert repr(master) not in text


def test_audit_contexts_are_sealed_under_the_current_master_and_open_after_rotation(
    paths: tuple[Path, Path], created: tuple[FileKeyProvider, str]
) -> None:
    key_file, escrow_file = paths
    provider, code = created
    plain = b'{"path":"/Dupont Jean.pdf"}'
    first = provider.seal_audit_context("event-1", plain)
    assert first[0] == "m1"
    assert b"Dupont" not in first[1]
    provider.add_master_key(escrow_file)
    second = provider.seal_audit_context("event-2", plain)
    assert second[0] == "m2"
    assert provider.open_audit_context("m1", "event-1", first[1]) == plain
    assert provider.open_audit_context(second[0], "event-2", second[1]) == plain
    # Bound to the event and to the master id: moved or relabelled, it does not open.
    with pytest.raises(IntegrityError):
        provider.open_audit_context("m1", "event-2", first[1])
    with pytest.raises(IntegrityError):
        provider.open_audit_context("m2", "event-1", first[1])
    # Master keys are escrowed: contexts survive the loss of the key file.
    key_file.unlink()
    recovered = FileKeyProvider.recover(escrow_file, code, key_file)
    assert recovered.open_audit_context("m1", "event-1", first[1]) == plain


def test_the_audit_context_key_is_not_the_master_key(
    created: tuple[FileKeyProvider, str], paths: tuple[Path, Path]
) -> None:
    provider, _ = created
    master = master_key_bytes(paths[0])[0]
    _, sealed = provider.seal_audit_context("event-1", b"{}")
    # Opening with the master key itself (no derivation) fails: a derived key of its own.
    with pytest.raises(InvalidTag):
        AESGCM(master).decrypt(sealed[:12], sealed[12:], b"egide audit context v1|m1|event-1")
    assert keys.open_audit_context(Secret(master), "m1", "event-1", sealed) == b"{}"
