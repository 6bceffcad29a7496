"""`egide login` against a real `egide serve` that requires a second factor (issue 5).

The server of tests/cli/test_remote.py, on settings that require MFA of
everyone (the default); alice has set up an authenticator app, bob none.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyotp
import pytest

from egide.cli.serve import warn_without_mfa
from egide.core.config import Settings
from egide.services.audit.recorder import ALLOWED
from egide.services.registry import Services
from tests.cli import test_remote
from tests.cli.conftest import Cli
from tests.cli.test_remote import PASSWORD, Live, api, remotes_file
from tests.services.mfa.conftest import events, secret_of
from tests.vault_fixtures import SYSTEM

STEP = dt.timedelta(seconds=30)

# The live server and the in-process CLI of the remote-mode tests.
server = test_remote.server
egide = test_remote.egide
config_home = test_remote.config_home


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The defaults, MFA policy included (the suite's fixture turns it off)."""
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def totp(server: Live) -> tuple[pyotp.TOTP, list[str]]:
    """Alice's authenticator app, confirmed now; (the app, the recovery codes)."""
    svc: Services = server.svc
    alice = svc.accounts.principal_for_username("alice")
    app = pyotp.TOTP(secret_of(svc.mfa.begin_totp(alice).uri))
    recovery = svc.mfa.confirm_totp(alice, app.now())
    return app, recovery


def login(egide: Cli, server: Live, code: str, username: str = "alice") -> tuple[int, str]:
    result = egide(
        "login", server.url, "--username", username, "--password-stdin",
        stdin=f"{PASSWORD}\n{code}\n",
    )  # fmt: skip
    return result.exit_code, " ".join(result.output.split())


def next_code(app: pyotp.TOTP) -> str:
    """The code of the next step: accepted (one step of skew), and never the one the
    enrolment used, which would be a replay."""
    return app.at(dt.datetime.now(dt.UTC) + STEP)


def test_login_gives_the_code_then_stores_a_working_token(
    egide: Cli, server: Live, config_home: Path, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    app, _ = totp
    code = next_code(app)
    status, said = login(egide, server, code)
    assert status == 0, said
    assert code not in said
    assert PASSWORD not in said
    token = remotes_file(config_home)["remotes"]["default"]["token"]
    with api(server, token) as client:
        assert client.get("/api/v1/spaces").status_code == 200
    assert server.recorder.to("/api/v1/session/mfa", "POST")
    verified = [e for e in events(server.svc, "mfa.verify") if e.outcome == ALLOWED]
    assert len(verified) == 1
    # The renewed session was ended after the token was made.
    assert server.recorder.to("/api/v1/session", "DELETE")


def test_a_recovery_code_works_once(
    egide: Cli, server: Live, config_home: Path, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    _, recovery = totp
    status, said = login(egide, server, recovery[0].lower())
    assert status == 0, said
    status, said = login(egide, server, recovery[0])
    assert status == 2, said
    assert "This code is wrong, expired or already used" in said


def test_a_wrong_or_missing_code_stores_nothing(
    egide: Cli, server: Live, config_home: Path, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    status, said = login(egide, server, "000000")
    assert status == 2, said
    assert said.startswith("Error: This code is wrong")
    status, said = login(egide, server, "")
    assert status == 2, said
    assert "on the line after the password" in said
    assert not (config_home / "egide" / "remotes.toml").exists()
    assert not server.svc.accounts.list_tokens(server.svc.accounts.principal_for_username("alice"))


def test_a_user_without_a_second_factor_is_sent_to_the_web(
    egide: Cli, server: Live, config_home: Path
) -> None:
    server.svc.accounts.create_user(SYSTEM, "bob", password=PASSWORD)
    status, said = login(egide, server, "123456", username="bob")
    assert status == 4, said
    assert "set up an authenticator app" in said
    assert server.url in said
    assert not (config_home / "egide" / "remotes.toml").exists()


@pytest.mark.parametrize(("policy", "warned"), [("none", True), ("admins", False)])
def test_serve_warns_when_no_second_factor_is_required(
    settings: Settings, policy: str, warned: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    warn_without_mfa(settings.with_overrides(mfa_required=policy))
    printed = " ".join(capsys.readouterr().err.split())
    assert ("no second factor is required" in printed) is warned
