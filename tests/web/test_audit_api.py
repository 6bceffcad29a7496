"""The audit rows of API.md: entries, the signed checkpoint, inclusion and consistency proofs."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from egide.core.audit import merkle
from egide.core.audit.checkpoint import verify_note
from egide.core.audit.errors import ProofRejected
from egide.core.clock import ManualClock
from egide.core.db.base import new_id
from egide.core.db.models import AuditEvent
from egide.services.access.policy import Action, GlobalRole, Principal, PrincipalKind, Scope
from egide.services.audit import ALLOWED, DENIED, ERROR
from egide.services.registry import Services
from tests.services.audit.helpers import stored_leaves
from tests.vault_fixtures import MakeUser

AUDIT = "/api/v1/audit"
USER_A, USER_B, TOKEN_T = new_id(), new_id(), new_id()
SPACE, SPACE_2, NODE_1, NODE_2, NODE_3 = (new_id() for _ in range(5))
VERSION_1, VERSION_2 = new_id(), new_id()


def bearer(svc: Services, who: Principal, *scopes: Scope) -> dict[str, str]:
    chosen = scopes or (Scope.AUDIT_READ,)
    _, secret = svc.accounts.create_token(who, "audit", list(chosen))
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def dpo(svc: Services, make_user: MakeUser) -> dict[str, str]:
    return bearer(svc, make_user("dana", GlobalRole.DPO))


def user(user_id: str, token_id: str | None = None) -> Principal:
    return Principal(kind=PrincipalKind.USER, user_id=user_id, username="u", token_id=token_id)


def record(svc: Services, clock: ManualClock, actor: Principal, action: str, **kw: object) -> None:
    clock.advance(hours=1)
    with svc.db.write() as session:
        svc.audit.recorder.record(
            session,
            actor=actor,
            action=action,
            target=kw.get("target", {}),  # type: ignore[arg-type]
            outcome=str(kw.get("outcome", ALLOWED)),
            details={"n": 1},
        )


@pytest.fixture
def five(svc: Services, clock: ManualClock, dpo: dict[str, str]) -> list[int]:
    """The seqs of five entries, an hour apart from 10:00 (UTC), after those of the setup
    (the DPO's account and token, at 09:00)."""
    assert dpo
    read, write = Action.FILE_READ, Action.FILE_WRITE
    record(
        svc,
        clock,
        user(USER_A),
        read,
        target={"space": SPACE, "node": NODE_1, "version": VERSION_1},
    )
    record(svc, clock, user(USER_A, TOKEN_T), write, target={"space": SPACE, "node": NODE_2})
    record(svc, clock, user(USER_B), read, target={"space": SPACE, "node": NODE_1}, outcome=DENIED)
    record(svc, clock, user(USER_B), Action.SPACE_CREATE, target={"space": SPACE_2})
    record(
        svc,
        clock,
        user(USER_A),
        read,
        target={"space": SPACE, "node": NODE_3, "version": VERSION_2},
        outcome=ERROR,
    )
    svc.audit.sequencer.run_pending()
    seqs = [seq for seq, _ in stored_leaves(svc.db)]
    return seqs[-5:]


def all_entries(svc: Services) -> list[dict[str, object]]:
    return [json.loads(leaf) for _, leaf in stored_leaves(svc.db)]


def seqs(client: TestClient, headers: dict[str, str], **params: str | int) -> list[int]:
    response = client.get(f"{AUDIT}/entries", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [entry["seq"] for entry in response.json()["entries"]]


def test_reading_the_log_is_for_administrators_and_dpos_through_the_policy(
    svc: Services, app_client: TestClient, make_user: MakeUser, dpo: dict[str, str]
) -> None:
    admin = make_user("root", GlobalRole.ADMIN)
    plain = bearer(svc, make_user("paul"), Scope.FILES_READ)
    for path in ("/entries", "/checkpoint", "/proof/0", "/consistency?first=0&second=0"):
        assert app_client.get(AUDIT + path).status_code == 401
        refused = app_client.get(AUDIT + path, headers=plain)
        assert refused.status_code == 403, path
        assert refused.json()["type"] == "urn:egide:problem:global-role-required"
        no_scope = app_client.get(AUDIT + path, headers=bearer(svc, admin, Scope.ADMIN))
        assert no_scope.status_code == 403
        assert no_scope.json()["type"] == "urn:egide:problem:token-scope-missing"
    assert app_client.get(f"{AUDIT}/entries", headers=dpo).status_code == 200
    assert app_client.get(f"{AUDIT}/entries", headers=bearer(svc, admin)).status_code == 200


def test_entries_are_the_leaves_parsed_with_nothing_else(
    svc: Services, app_client: TestClient, dpo: dict[str, str], five: list[int]
) -> None:
    response = app_client.get(f"{AUDIT}/entries", params={"limit": 1000}, headers=dpo)
    assert response.headers["cache-control"] == "private, no-store"
    body = response.json()
    assert body == {"entries": all_entries(svc), "next_cursor": None}
    assert [entry["seq"] for entry in body["entries"]][-5:] == five
    assert set(body["entries"][-1]) == {
        "seq", "time", "event_id", "actor", "action", "target", "outcome", "details",
        "context_hash",
    }  # fmt: skip


def test_entries_filter_by_actor_target_action_outcome_and_time(
    app_client: TestClient, dpo: dict[str, str], five: list[int]
) -> None:
    s0, s1, s2, s3, s4 = five
    assert seqs(app_client, dpo, actor=USER_A) == [s0, s1, s4], "a user's tokens included"
    assert seqs(app_client, dpo, actor=TOKEN_T) == [s1]
    assert seqs(app_client, dpo, target=NODE_1) == [s0, s2]
    assert seqs(app_client, dpo, target=SPACE) == [s0, s1, s2, s4]
    assert seqs(app_client, dpo, target=SPACE_2) == [s3]
    assert seqs(app_client, dpo, target=VERSION_2) == [s4]
    assert seqs(app_client, dpo, target="%") == [], "LIKE wildcards are plain text"
    assert seqs(app_client, dpo, action="file.read") == [s0, s2, s4]
    assert seqs(app_client, dpo, outcome="denied", target=SPACE) == [s2]
    assert seqs(app_client, dpo, action="file.read", actor=USER_B) == [s2]
    # Entries at 10:00, 11:00 ... 14:00 UTC; since inclusive, until exclusive.
    period = {"since": "2026-03-02T11:00:00Z", "until": "2026-03-02T13:00:00Z"}
    assert seqs(app_client, dpo, **period) == [s1, s2]
    assert seqs(app_client, dpo, since="2026-03-02T14:00:00+01:00") == [s3, s4]
    assert seqs(app_client, dpo, actor=new_id()) == []


def test_entries_page_by_seq(app_client: TestClient, dpo: dict[str, str], five: list[int]) -> None:
    everything = seqs(app_client, dpo, limit=1000)
    assert everything == list(range(len(everything)))
    pages: list[list[int]] = []
    cursor: int | None = 0
    for _ in range(len(everything)):  # bounded: a page holds at least one entry
        if cursor is None:
            break
        response = app_client.get(
            f"{AUDIT}/entries", params={"cursor": cursor, "limit": 2}, headers=dpo
        )
        body = response.json()
        pages.append([entry["seq"] for entry in body["entries"]])
        cursor = body["next_cursor"]
    assert cursor is None
    assert [seq for page in pages for seq in page] == everything
    assert all(len(page) == 2 for page in pages[:-1])
    filtered = app_client.get(
        f"{AUDIT}/entries", params={"target": SPACE, "limit": 2}, headers=dpo
    ).json()
    assert [entry["seq"] for entry in filtered["entries"]] == five[:2]
    assert filtered["next_cursor"] == five[2]
    assert seqs(app_client, dpo, cursor=five[3], target=NODE_1) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-03-02T12:00:00Z", "until": "2026-03-02T12:00:00Z"}, "since"),
        ({"since": "2026-03-02T12:00:00"}, "since"),
        ({"until": "0.5"}, "until"),
        ({"until": "1772443800"}, "until"),
        ({"cursor": -1}, "cursor"),
        ({"cursor": "ten"}, "cursor"),
        ({"cursor": 1 << 63}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"outcome": "maybe"}, "outcome"),
        ({"actor": "a\x00b"}, "actor"),
        ({"action": "x" * 65}, "action"),
    ],
)
def test_bad_entry_queries_are_400_naming_the_field(
    app_client: TestClient, dpo: dict[str, str], params: dict[str, str | int], field: str
) -> None:
    response = app_client.get(f"{AUDIT}/entries", params=params, headers=dpo)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field


def test_the_checkpoint_is_the_latest_signed_note_or_404(
    svc: Services, app_client: TestClient, dpo: dict[str, str], five: list[int]
) -> None:
    none = app_client.get(f"{AUDIT}/checkpoint", headers=dpo)
    assert none.status_code == 404
    assert none.json()["type"] == "urn:egide:problem:audit-no-checkpoint"
    assert "egide audit checkpoint" in none.json()["detail"]
    signed = svc.audit.checkpoint(force=True)
    assert signed is not None
    response = app_client.get(f"{AUDIT}/checkpoint", headers=dpo)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == signed.note
    checkpoint = verify_note(response.text, svc.audit.verifier_key())
    assert checkpoint.size == five[-1] + 1


def test_inclusion_proofs_verify_against_the_signed_checkpoint(
    svc: Services, app_client: TestClient, dpo: dict[str, str], five: list[int]
) -> None:
    signed = svc.audit.checkpoint(force=True)
    assert signed is not None
    size = signed.size
    entries = all_entries(svc)
    assert size == len(entries) > five[-1]
    for seq in range(size):
        body = app_client.get(f"{AUDIT}/proof/{seq}", headers=dpo).json()
        leaf = base64.b64decode(body["leaf"])
        assert json.loads(leaf) == entries[seq]
        assert body["leaf_hash"] == merkle.leaf_hash(leaf).hex()
        assert (body["tree_size"], body["root"]) == (size, signed.root.hex())
        proof = [bytes.fromhex(node) for node in body["proof"]]
        merkle.verify_inclusion(bytes.fromhex(body["leaf_hash"]), seq, size, proof, signed.root)
    older = app_client.get(f"{AUDIT}/proof/1", params={"tree_size": 3}, headers=dpo).json()
    _, head_3 = svc.audit.tree_head(3)
    assert older["root"] == head_3.hex()
    proof = [bytes.fromhex(node) for node in older["proof"]]
    merkle.verify_inclusion(bytes.fromhex(older["leaf_hash"]), 1, 3, proof, head_3)
    with pytest.raises(ProofRejected):  # the proof of another entry does not fit
        merkle.verify_inclusion(bytes.fromhex(older["leaf_hash"]), 2, 3, proof, head_3)


def test_consistency_proofs_verify_between_sizes(
    svc: Services, app_client: TestClient, dpo: dict[str, str], five: list[int]
) -> None:
    signed = svc.audit.checkpoint(force=True)
    assert signed is not None
    second = signed.size
    assert second > five[-1]
    for first in range(second + 1):
        response = app_client.get(
            f"{AUDIT}/consistency", params={"first": first, "second": second}, headers=dpo
        )
        body = response.json()
        assert (body["first"], body["second"]) == (first, second)
        assert body["first_root"] == svc.audit.tree_head(first)[1].hex()
        assert body["second_root"] == signed.root.hex()
        merkle.verify_consistency(
            first,
            second,
            bytes.fromhex(body["first_root"]),
            bytes.fromhex(body["second_root"]),
            [bytes.fromhex(node) for node in body["proof"]],
        )


@pytest.mark.parametrize(
    ("url", "field", "says"),
    [
        ("/proof/{n}", "seq", "Entry {n} is not in the tree of {n} entries"),
        ("/proof/2?tree_size=2", "seq", "Entry 2 is not in the tree of 2 entries"),
        ("/proof/0?tree_size={n1}", "tree_size", "covers {n} entries"),
        ("/proof/0?tree_size={n2}", "tree_size", "covers {n} entries"),
        ("/proof/x", "seq", "valid integer"),
        ("/proof/0?tree_size=-1", "tree_size", "greater than or equal to 0"),
        ("/consistency?first=4&second=3", "first", "must not exceed the second"),
        ("/consistency?first=1&second={n2}", "second", "covers {n} entries"),
        ("/consistency?first=1", "second", "Field required"),
        ("/consistency?first=a&second=2", "first", "valid integer"),
    ],
)
def test_proofs_outside_the_signed_tree_are_400_naming_the_field(
    svc: Services,
    clock: ManualClock,
    app_client: TestClient,
    dpo: dict[str, str],
    *,
    five: list[int],
    url: str,
    field: str,
    says: str,
) -> None:
    signed = svc.audit.checkpoint(force=True)
    assert signed is not None
    n = signed.size
    record(svc, clock, user(USER_A), Action.FILE_READ)
    record(svc, clock, user(USER_A), Action.FILE_READ)
    assert svc.audit.tree_head()[0] == n + 2 > five[-1], "stored, but not signed yet"
    sizes = {"n": n, "n1": n + 1, "n2": n + 2}
    response = app_client.get(AUDIT + url.format(**sizes), headers=dpo)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert says.format(**sizes) in response.json()["detail"]


def test_proofs_need_a_signed_checkpoint(
    app_client: TestClient, dpo: dict[str, str], five: list[int]
) -> None:
    assert five
    for url in ("/proof/0", "/consistency?first=0&second=0"):
        response = app_client.get(AUDIT + url, headers=dpo)
        assert response.status_code == 404
        assert response.json()["type"] == "urn:egide:problem:audit-no-checkpoint"


def test_the_time_filter_is_utc_whatever_the_offset(
    app_client: TestClient, dpo: dict[str, str], five: list[int]
) -> None:
    at = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # 10:00 UTC
    assert seqs(app_client, dpo, actor=USER_A, until=at.isoformat()) == []
    later = (at + dt.timedelta(minutes=1)).isoformat()
    assert seqs(app_client, dpo, actor=USER_A, until=later) == five[:1]


def _reads(svc: Services) -> list[tuple[str, str, dict[str, object]]]:
    with svc.db.read() as session:
        rows = session.execute(
            select(AuditEvent.outcome, AuditEvent.user_id, AuditEvent.details)
            .where(AuditEvent.action == "audit.read")
            .order_by(AuditEvent.created_at)
        ).all()
    return [(outcome, str(user_id), json.loads(details)) for outcome, user_id, details in rows]


def test_reading_entries_and_proofs_is_itself_audited_and_so_are_refusals(
    svc: Services, app_client: TestClient, make_user: MakeUser, five: list[int]
) -> None:
    dana = svc.accounts.principal_for_username("dana")
    paul = make_user("paul")
    headers = bearer(svc, dana)
    app_client.get(f"{AUDIT}/entries", params={"target": NODE_1, "limit": 3}, headers=headers)
    svc.audit.checkpoint(force=True)
    app_client.get(f"{AUDIT}/proof/{five[0]}", headers=headers)
    app_client.get(f"{AUDIT}/checkpoint", headers=headers)  # hashes only: not recorded
    refused = app_client.get(f"{AUDIT}/entries", headers=bearer(svc, paul, Scope.FILES_READ))
    assert refused.status_code == 403
    reads = _reads(svc)
    assert reads[0] == (
        "allowed",
        dana.user_id,
        {"query": {"cursor": 0, "target": NODE_1}, "returned": 2},
    )
    assert reads[1][:2] == ("allowed", dana.user_id)
    assert reads[1][2]["seq"] == five[0]
    assert [(outcome, who) for outcome, who, _ in reads[2:]] == [("denied", paul.user_id)]
