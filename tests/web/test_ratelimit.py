"""Operations that store a row before anyone is known are budgeted per address.

Passwordless passkey options, single sign-on starts and device authorizations
each store a row (challenge, state, device code); web/ratelimit.py bounds how
many one address may start, in memory, before anything is written.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from egide.core.db.models import DeviceAuthorization, PasskeyChallenge
from egide.services.registry import Services
from egide.web.app import create_app
from egide.web.ratelimit import AddressBudget, RequestsThrottled

OPTIONS = "/api/v1/session/passkey/options"
AUTHORIZE = "/api/v1/device/authorize"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_refills_with_time() -> None:
    clock = Clock()
    budget = AddressBudget(60, clock=clock)  # one a second, 120 in a burst
    for _ in range(120):
        budget.spend("198.51.100.7")
    with pytest.raises(RequestsThrottled) as refused:
        budget.spend("198.51.100.7")
    assert refused.value.retry_after == 1
    budget.spend("198.51.100.8")  # another address has its own bucket
    clock.now += 2.5
    budget.spend("198.51.100.7")
    budget.spend("198.51.100.7")
    with pytest.raises(RequestsThrottled):
        budget.spend("198.51.100.7")


def test_ipv6_counts_by_its_64_and_old_addresses_are_forgotten() -> None:
    budget = AddressBudget(1, clock=Clock(), max_addresses=2)
    budget.spend("2001:db8:1:2::1")
    budget.spend("2001:db8:1:2::ffff")
    with pytest.raises(RequestsThrottled) as refused:
        budget.spend("2001:db8:1:2:aaaa::3")  # the same /64
    assert refused.value.retry_after == 60
    budget.spend("2001:db8:9::1")
    budget.spend("192.0.2.1")  # the /64 above is now the oldest of three: forgotten
    budget.spend("2001:db8:1:2::1")


def client_from(svc: Services, address: str, budget: AddressBudget) -> TestClient:
    app = create_app(svc)
    app.state.unauthenticated_budget = budget
    return TestClient(app, client=(address, 40000), headers={"Accept-Language": "en"})


@pytest.fixture
def budget() -> AddressBudget:
    return AddressBudget(2, clock=Clock())  # 4 in a burst, then one every 30 s


def count(svc: Services, model: type) -> int:
    with svc.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_passwordless_options_beyond_the_budget_store_nothing(
    svc: Services, budget: AddressBudget
) -> None:
    with client_from(svc, "203.0.113.5", budget) as client:
        for _ in range(4):
            assert client.post(OPTIONS).status_code == 200
        stored = count(svc, PasskeyChallenge)
        refused = client.post(OPTIONS)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "30"
        assert refused.json()["type"] == "urn:egide:problem:requests-throttled"
        assert "Wait 30 s" in refused.json()["detail"]
        assert count(svc, PasskeyChallenge) == stored
    with client_from(svc, "203.0.113.6", budget) as neighbour:
        assert neighbour.post(OPTIONS).status_code == 200


def test_device_authorizations_share_the_budget(svc: Services, budget: AddressBudget) -> None:
    with client_from(svc, "203.0.113.9", budget) as client:
        for _ in range(2):
            assert client.post(OPTIONS).status_code == 200
        for _ in range(2):
            answer = client.post(AUTHORIZE, data={"client_name": "poste 12"})
            assert answer.status_code == 200, answer.text
        stored = count(svc, DeviceAuthorization)
        refused = client.post(AUTHORIZE, data={"client_name": "poste 12"})
        assert refused.status_code == 429
        assert count(svc, DeviceAuthorization) == stored


def test_the_french_message(svc: Services, budget: AddressBudget) -> None:
    with client_from(svc, "203.0.113.10", budget) as client:
        for _ in range(4):
            client.post(OPTIONS)
        refused = client.post(OPTIONS, headers={"Accept-Language": "fr"})
        assert refused.status_code == 429
        assert "Patientez 30 s" in refused.json()["detail"]


def test_single_sign_on_starts_are_budgeted(svc: Services, budget: AddressBudget) -> None:
    """Spent before anything else: even where single sign-on is off (404)."""
    with client_from(svc, "203.0.113.11", budget) as client:
        for _ in range(4):
            assert client.get("/api/v1/sso/login", follow_redirects=False).status_code == 404
        assert client.get("/api/v1/sso/login", follow_redirects=False).status_code == 429
