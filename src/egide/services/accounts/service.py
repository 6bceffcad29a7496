"""AccountService: users, log-in by password, and the principal behind a session.

Groups and API tokens are in `groups.py` and `token_admin.py`; this class
puts the three together. Every administrative call takes the acting
`Principal` first and asks the access policy; the only calls open to anyone
are self-service ones (one's own password and tokens) and authentication.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterable
from typing import TypeVar

import argon2
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError as SQLIntegrityError
from sqlalchemy.orm import Session

from egide.core.clock import Clock
from egide.core.db.engine import Database
from egide.core.db.models import ApiToken, LoginThrottle, User, UserRole
from egide.core.errors import EgideError, InvalidInput
from egide.services.access.policy import (
    Action,
    GlobalRole,
    Principal,
    PrincipalKind,
    Scope,
    authorize,
)
from egide.services.accounts import passwords
from egide.services.accounts.errors import (
    AccountDisabled,
    AccountGone,
    BadCredentials,
    LastAdmin,
    LoginThrottled,
    PasswordChangeRequired,
    UsernameTaken,
    WeakPassword,
    WrongCurrentPassword,
)
from egide.services.accounts.groups import GroupAdmin
from egide.services.accounts.overview import UserOverviewAdmin
from egide.services.accounts.records import (
    UserInfo,
    canonical_name,
    find_user,
    get_user_row,
    load_principal,
    parse_global_roles,
    resolve_principal_ref,
    user_info,
)
from egide.services.accounts.throttle import (
    LoginThrottler,
    Standing,
    ThrottleKeys,
    ThrottlePolicy,
    account_key,
    address_key,
)
from egide.services.accounts.token_admin import TokenAdmin
from egide.services.audit.actions import AuditAction
from egide.services.audit.context import current_request
from egide.services.audit.denials import records_denials
from egide.services.audit.recorder import AuditRecorder
from egide.services.mfa.policy import MfaPolicy

# resolve_principal_ref lives with the other queries; it is offered here too
# because callers think of it as part of the account service.
__all__ = ["AccountService", "resolve_principal_ref"]

T = TypeVar("T")

_MAX_DISPLAY_NAME = 200
_MAX_EMAIL = 320
#: The most of a tried user name kept in the sealed context of a failed log-in.
_MAX_TRIED_NAME = 200


def _check_profile(display_name: str, email: str | None) -> tuple[str, str | None]:
    display_name = display_name.strip()
    if len(display_name) > _MAX_DISPLAY_NAME:
        raise InvalidInput(
            "The display name is too long: at most {maximum} characters.",
            field="display_name",
            maximum=_MAX_DISPLAY_NAME,
        )
    if email is not None:
        email = email.strip()
        local, at, domain = email.rpartition("@")
        if not (at and local and "." in domain) or len(email) > _MAX_EMAIL or " " in email:
            raise InvalidInput(
                "This e-mail address is not valid. Write it as name@example.org.",
                field="email",
            )
    return display_name, email or None


def _enabled_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(UserRole)
            .join(User, User.id == UserRole.user_id)
            .where(UserRole.role == GlobalRole.ADMIN.value, User.is_disabled.is_(False))
        )
        or 0
    )


class AccountService(GroupAdmin, TokenAdmin, UserOverviewAdmin):
    def __init__(
        self,
        db: Database,
        *,
        hasher: argon2.PasswordHasher | None = None,
        clock: Clock | None = None,
        audit: AuditRecorder | None = None,
        throttle: ThrottlePolicy | None = None,
        mfa_policy: MfaPolicy | None = None,
        on_failures_cleared: Callable[[Session, str, LoginThrottle], object] | None = None,
    ) -> None:
        """`on_failures_cleared`: the log-in alert after failures (`LoginThrottler`)."""
        super().__init__(db, hasher=hasher, clock=clock, audit=audit, mfa_policy=mfa_policy)
        self._throttle = LoginThrottler(
            db, self._clock, throttle or ThrottlePolicy(), on_cleared=on_failures_cleared
        )

    # --- users -----------------------------------------------------------------

    @records_denials
    def create_user(
        self,
        actor: Principal,
        username: str,
        *,
        password: str | None,
        display_name: str = "",
        email: str | None = None,
        roles: Iterable[GlobalRole | str] = (),
        must_change_password: bool = False,
    ) -> UserInfo:
        """Create an account; `password=None` makes one that signs in through SSO only.

        `must_change_password` is for a password the user did not choose (a
        one-time password handed over): its sessions may only change it.
        """
        authorize(actor, Action.USER_MANAGE)
        name = canonical_name(username)
        display_name, email = _check_profile(display_name, email)
        wanted_roles = parse_global_roles(roles)
        now = self._now()
        password_hash = None
        if password is not None:
            passwords.check_password_policy(name, password)
            password_hash = passwords.hash_password(self._hasher, password)
        with self._db.write() as session:
            if find_user(session, name) is not None:
                raise UsernameTaken(name)
            user = User(
                username=name,
                display_name=display_name,
                email=email,
                password_hash=password_hash,
                is_disabled=False,
                created_at=now,
                password_changed_at=now if password_hash else None,
                must_change_password=must_change_password and password_hash is not None,
            )
            session.add(user)
            try:
                session.flush()
            except SQLIntegrityError as exc:
                # Another transaction took the name between the check and the insert.
                raise UsernameTaken(name) from exc
            session.add_all(UserRole(user_id=user.id, role=r.value) for r in wanted_roles)
            session.flush()
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.USER_CREATE,
                target={"user": user.id},
                details={
                    "roles": sorted(r.value for r in wanted_roles),
                    "password": password_hash is not None,
                },
            )
            return user_info(session, user)

    @records_denials
    def get_user(self, actor: Principal, username: str) -> UserInfo:
        """A user's account; anyone may read their own, administrators anyone's."""
        if actor.username != _canonical_or_none(username):
            authorize(actor, Action.USER_MANAGE)
        with self._db.read() as session:
            return user_info(session, get_user_row(session, username))

    @records_denials
    def list_users(self, actor: Principal) -> list[UserInfo]:
        authorize(actor, Action.USER_MANAGE)
        with self._db.read() as session:
            users = session.scalars(select(User).order_by(User.username)).all()
            return [user_info(session, user) for user in users]

    @records_denials
    def set_roles(
        self, actor: Principal, username: str, roles: Iterable[GlobalRole | str]
    ) -> UserInfo:
        """Replace the user's global roles with `roles`."""
        authorize(actor, Action.USER_MANAGE)
        wanted = parse_global_roles(roles)
        with self._db.write() as session:
            user = get_user_row(session, username)
            session.execute(delete(UserRole).where(UserRole.user_id == user.id))
            session.add_all(UserRole(user_id=user.id, role=r.value) for r in wanted)
            session.flush()
            self._keep_an_admin(session, actor)
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.USER_ROLES,
                target={"user": user.id},
                details={"roles": sorted(r.value for r in wanted)},
            )
            return user_info(session, user)

    @records_denials
    def disable_user(self, actor: Principal, username: str) -> UserInfo:
        """Disable the account, revoke all its API tokens and end all its sessions, at once.

        Sessions end by `sessions_valid_from` (the session service refuses any
        begun before it), so one not used while the account was disabled does
        not come back when it is enabled again.
        """
        authorize(actor, Action.USER_MANAGE)
        now = self._now()
        with self._db.write() as session:
            user = get_user_row(session, username)
            user.is_disabled = True
            user.sessions_valid_from = now
            session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            session.flush()
            self._keep_an_admin(session, actor)
            self.audit.record(
                session, actor=actor, action=AuditAction.USER_DISABLE, target={"user": user.id}
            )
            return user_info(session, user)

    @records_denials
    def enable_user(self, actor: Principal, username: str) -> UserInfo:
        """Enable the account again; its revoked tokens stay revoked."""
        authorize(actor, Action.USER_MANAGE)
        with self._db.write() as session:
            user = get_user_row(session, username)
            user.is_disabled = False
            self.audit.record(
                session, actor=actor, action=AuditAction.USER_ENABLE, target={"user": user.id}
            )
            return user_info(session, user)

    @staticmethod
    def _keep_an_admin(session: Session, actor: Principal) -> None:
        # Locking every administrator out through the web would need the
        # command line to recover; the local administrator (who has it) may.
        if not actor.is_system and _enabled_admins(session) == 0:
            raise LastAdmin()

    # --- passwords ---------------------------------------------------------------

    def check_password_policy(self, username: str, password: str) -> None:
        passwords.check_password_policy(username, password)

    @records_denials
    def change_password(
        self,
        actor: Principal,
        username: str,
        new_password: str,
        *,
        current_password: str | None = None,
        must_change: bool = True,
    ) -> None:
        """Change one's own password (with the current one), or reset anyone's (administrators).

        Changing one's own password always asks for the current one, even for an
        administrator: a session left open must not be enough to take the account.
        Either way every session of the user ends (sessions check
        `password_changed_at`) and every API token is revoked, in case the old
        password was stolen. A reset sets `must_change_password` (unless
        `must_change` is False: the user is the one at the console): the user
        must then choose their own; choosing it clears the flag.
        """
        is_self = not actor.is_system and actor.username == _canonical_or_none(username)
        if not is_self:
            authorize(actor, Action.USER_MANAGE)
        with self._db.write() as session:
            user = get_user_row(session, username)
            if is_self and (
                current_password is None
                or user.password_hash is None
                or not passwords.verify_password(self._hasher, user.password_hash, current_password)
            ):
                raise WrongCurrentPassword()
            passwords.check_password_policy(user.username, new_password)
            if is_self and current_password == new_password:
                raise WeakPassword(
                    "The new password is the same as the current one. Choose another.",
                    field="new_password",
                )
            now = self._now()
            user.password_hash = passwords.hash_password(self._hasher, new_password)
            user.password_changed_at = now
            user.must_change_password = must_change and not is_self
            session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.PASSWORD_CHANGE,
                target={"user": user.id},
                details={"reset": not is_self, "must_change": user.must_change_password},
            )

    def must_change_password(self, user_id: str) -> bool:
        """Whether this user's password was chosen by someone else and awaits its change."""
        with self._db.read() as session:
            user = session.get(User, user_id)
            return user is not None and user.must_change_password

    # --- authentication ----------------------------------------------------------

    @functools.cached_property
    def _dummy_hash(self) -> str:
        # Verified against when there is no real hash to check, so an unknown
        # user costs the same argon2 work as a known one (no user enumeration
        # by timing).
        return self._hasher.hash(secrets.token_urlsafe(32))

    def authenticate(self, username: str, password: str) -> Principal:
        """The principal for a right username and password; else why not.

        The back-off comes first (`throttle.py`): an attempt while the account
        or the client address is blocked is refused with LoginThrottled before
        any password check, whether the account exists or not, and is an audit
        event (`session.throttled`, denied) of its own. A refusal after the
        check is one too (`session.login`, denied), and a wrong password counts
        against both counters; the name tried goes into the sealed context,
        never into the leaf.
        """
        with self._db.read() as session:
            user = find_user(session, username)
            keys = ThrottleKeys(
                account=account_key(None if user is None else user.id, username),
                address=address_key(_client_address()),
            )
            standing = self._throttle.standing(session, keys)
            outcome = None if standing.retry_after else self._judge(session, user, password)
        if outcome is None:
            self._record_throttled(user, username, standing)
            raise LoginThrottled(standing.retry_after)
        if isinstance(outcome, EgideError):
            # A disabled account's refusal comes after the right password: no guess to slow.
            if isinstance(outcome, BadCredentials):
                self._throttle.record_failure(keys)
            self._record_failed_login(user, username, outcome)
            raise outcome
        if standing.account_failed:
            self._throttle.record_success(keys)
        if user is not None:
            self._upgrade_hash(user, password)
        return outcome

    def throttled_guess(
        self, user_id: str, attempt: Callable[[], T], *, wrong: type[EgideError]
    ) -> T:
        """Run `attempt`, a check of a guessable secret of `user_id` (a second-factor
        code), under the same back-off as passwords: refused while the account or the
        address is blocked; a `wrong` answer counts as a failed log-in."""
        keys = ThrottleKeys(
            account=account_key(user_id, ""), address=address_key(_client_address())
        )
        with self._db.read() as session:
            standing = self._throttle.standing(session, keys)
            user = session.get(User, user_id)
        if standing.retry_after:
            self._record_throttled(user, "", standing)
            raise LoginThrottled(standing.retry_after)
        try:
            result = attempt()
        except wrong:
            self._throttle.record_failure(keys)
            raise
        if standing.account_failed:
            self._throttle.record_success(keys)
        return result

    def _judge(self, session: Session, user: User | None, password: str) -> Principal | EgideError:
        """The principal `password` signs `user` in as, or why it does not."""
        stored = user.password_hash if user is not None else None
        if user is None or stored is None:
            passwords.verify_password(self._hasher, self._dummy_hash, password)
            return BadCredentials()
        if not passwords.verify_password(self._hasher, stored, password):
            return BadCredentials()
        # Only now: telling that an account is disabled to someone without
        # its password would confirm that it exists.
        if user.is_disabled:
            return AccountDisabled()
        return load_principal(session, user)

    def _upgrade_hash(self, user: User, password: str) -> None:
        """Hash the password again when the hasher's parameters have grown since."""
        stored = user.password_hash or ""
        if self._hasher.check_needs_rehash(stored):
            with self._db.write() as session:
                session.execute(
                    update(User)
                    .where(User.id == user.id, User.password_hash == stored)
                    .values(password_hash=passwords.hash_password(self._hasher, password))
                )

    def _record_failed_login(self, user: User | None, username: str, failure: EgideError) -> None:
        user_id = None if user is None else user.id
        self.audit.record_denied(
            self._db,
            actor=_failed_login_actor(user_id),
            action=AuditAction.LOGIN,
            target={"user": user_id},
            details={"reason": failure.code},
            context={"username": username[:_MAX_TRIED_NAME]},
        )

    def _record_throttled(self, user: User | None, username: str, standing: Standing) -> None:
        user_id = None if user is None else user.id
        self.audit.record_denied(
            self._db,
            actor=_failed_login_actor(user_id),
            action=AuditAction.LOGIN_THROTTLED,
            target={"user": user_id},
            details={"blocked_by": standing.blocked_by, "retry_after": standing.retry_after},
            context={"username": username[:_MAX_TRIED_NAME]},
        )

    def principal_for(
        self,
        user_id: str,
        *,
        scopes: frozenset[Scope] | None = None,
        token_id: str | None = None,
        password_change: bool = False,
    ) -> Principal:
        """The principal of an existing session or token, with roles and groups as of now.

        A user whose password awaits its change gets PasswordChangeRequired,
        unless the caller only serves that change (`password_change=True`).
        """
        with self._db.read() as session:
            user = session.get(User, user_id)
            if user is None:
                raise AccountGone()
            if user.is_disabled:
                raise AccountDisabled()
            if user.must_change_password and not password_change:
                raise PasswordChangeRequired()
            return load_principal(session, user, scopes=scopes, token_id=token_id)

    def principal_for_username(self, username: str) -> Principal:
        """The principal of a named user, for the local command line (`--user NAME`).

        Only for doors whose operator is already trusted (the CLI runs with
        access to the data directory); it checks no password.
        """
        with self._db.read() as session:
            user = get_user_row(session, username)
            if user.is_disabled:
                raise AccountDisabled()
            return load_principal(session, user)


def _failed_login_actor(user_id: str | None) -> Principal:
    """Who tried: the account named, when it exists; else nobody known (the system)."""
    if user_id is None:
        return Principal.system()
    return Principal(kind=PrincipalKind.USER, user_id=user_id, username="")


def _client_address() -> str | None:
    """The address of the client being served, as the web door saw it; None at the CLI."""
    request = current_request()
    return None if request is None else request.client_address


def _canonical_or_none(username: str) -> str | None:
    try:
        return canonical_name(username)
    except InvalidInput:
        return None
