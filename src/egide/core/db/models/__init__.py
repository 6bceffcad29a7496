"""Every table of Égide. Import from here so Alembic sees the whole metadata."""

from egide.core.db.base import Base
from egide.core.db.models.accounts import ApiToken, Group, GroupMember, User, UserRole
from egide.core.db.models.audit import (
    AuditArchive,
    AuditCheckpoint,
    AuditContext,
    AuditCursor,
    AuditEvent,
    AuditLeaf,
    AuditNode,
)
from egide.core.db.models.device import DeviceAuthorization
from egide.core.db.models.history import NodeHistory
from egide.core.db.models.mail import OutboxMail
from egide.core.db.models.mfa import LoginThrottle, RecoveryCode, TotpFactor
from egide.core.db.models.notifications import Follow, Notification, NotifyPreference
from egide.core.db.models.passkeys import PasskeyChallenge, PasskeyCredential
from egide.core.db.models.ransomware import (
    RansomwareCanary,
    RansomwareEvent,
    RansomwareFingerprint,
    RansomwareIncident,
)
from egide.core.db.models.sessions import WebSession
from egide.core.db.models.sharing import (
    ShareLink,
    ShareLinkRecipient,
    ShareLinkSession,
    SpaceLinkPolicy,
)
from egide.core.db.models.sso import ExternalIdentity, SsoLoginState
from egide.core.db.models.uploads import Upload, UploadPart
from egide.core.db.models.vault import (
    Content,
    Grant,
    Node,
    Space,
    SpaceKey,
    TrashItem,
    Version,
)

__all__ = [
    "ApiToken",
    "AuditArchive",
    "AuditCheckpoint",
    "AuditContext",
    "AuditCursor",
    "AuditEvent",
    "AuditLeaf",
    "AuditNode",
    "Base",
    "Content",
    "DeviceAuthorization",
    "ExternalIdentity",
    "Follow",
    "Grant",
    "Group",
    "GroupMember",
    "LoginThrottle",
    "Node",
    "NodeHistory",
    "Notification",
    "NotifyPreference",
    "OutboxMail",
    "PasskeyChallenge",
    "PasskeyCredential",
    "RansomwareCanary",
    "RansomwareEvent",
    "RansomwareFingerprint",
    "RansomwareIncident",
    "RecoveryCode",
    "ShareLink",
    "ShareLinkRecipient",
    "ShareLinkSession",
    "Space",
    "SpaceKey",
    "SpaceLinkPolicy",
    "SsoLoginState",
    "TotpFactor",
    "TrashItem",
    "Upload",
    "UploadPart",
    "User",
    "UserRole",
    "Version",
    "WebSession",
]
