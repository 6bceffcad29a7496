"""Accounts: users, groups, passwords, API tokens, and who a request acts as."""

from egide.services.accounts.records import (
    GroupInfo,
    TokenInfo,
    UserInfo,
    canonical_name,
    resolve_principal_ref,
)
from egide.services.accounts.service import AccountService

__all__ = [
    "AccountService",
    "GroupInfo",
    "TokenInfo",
    "UserInfo",
    "canonical_name",
    "resolve_principal_ref",
]
