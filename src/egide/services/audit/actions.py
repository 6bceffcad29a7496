"""Every action the audit log records: one name per kind of event (issue 4, item 1).

Names are dotted, `<object>.<verb>`; where the access policy has an action of
the same meaning (`egide.services.access.policy.Action`), the name is the
same text. A refused attempt of any of them is recorded under the name of
what was attempted, with outcome `denied`. The test
tests/services/audit/test_coverage.py drives each name and fails when one
writes no entry, or when a service grows a public method that is neither
mapped to an action nor declared read-only there.
"""

from __future__ import annotations

import enum

# ruff: noqa: S105 - action names, not secrets


class AuditAction(enum.StrEnum):
    # Signing in and sessions
    LOGIN = "session.login"  # allowed, or denied for a wrong password or a disabled user
    LOGOUT = "session.logout"
    SESSION_EXPIRE = "session.expire"
    SESSION_LOCK = "session.lock"
    SESSION_UNLOCK = "session.unlock"
    SESSION_REVOKE = "session.revoke"
    PASSWORD_CHANGE = "user.password"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    TOKEN_REFUSED = "token.refused"  # an unknown, expired or revoked API token presented
    LOGIN_THROTTLED = "session.throttled"  # an attempt refused by the back-off, unjudged
    # The device authorization flow of `egide login` (RFC 8628)
    DEVICE_START = "device.start"  # a device asked for a code
    DEVICE_APPROVE = "device.approve"  # a user approved it (denied: bad code, no second factor)
    DEVICE_DENY = "device.deny"  # a user refused it
    DEVICE_TOKEN = "device.token"  # a refused poll: denied, expired, unknown or replayed code
    # Second factors
    MFA_ENROL = "mfa.enrol"  # a factor added (TOTP: not yet confirmed)
    MFA_CONFIRM = "mfa.confirm"  # its first valid code
    MFA_REMOVE = "mfa.remove"
    MFA_VERIFY = "mfa.verify"  # the second step of a log-in: allowed or denied
    MFA_RECOVERY_CODES = "mfa.recovery_codes"  # a new set of recovery codes
    MFA_PASSKEY_ADD = "mfa.passkey.add"  # a passkey registered (WebAuthn); its use: mfa.verify
    MFA_PASSKEY_RENAME = "mfa.passkey.rename"
    MFA_PASSKEY_REMOVE = "mfa.passkey.remove"
    # Single sign-on (OpenID Connect); its log-ins and refusals are session.login, method oidc
    SSO_LINK = "sso.link"  # an external identity (issuer, subject) bound to an account
    # People and groups
    USER_CREATE = "user.create"
    USER_ROLES = "user.roles"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    GROUP_CREATE = "group.create"
    GROUP_DELETE = "group.delete"
    GROUP_MEMBER_ADD = "group.member_add"
    GROUP_MEMBER_REMOVE = "group.member_remove"
    # Spaces and who works in them
    SPACE_CREATE = "space.create"
    SPACE_QUOTA = "space.quota"
    GRANT_ADD = "grant.add"
    GRANT_REMOVE = "grant.remove"
    # External share links (issue 7, docs/sharing.md); recipients' events name the link
    LINK_CREATE = "link.create"
    LINK_REVOKE = "link.revoke"
    LINK_POLICY = "space.link_policy"  # a space's policy for links set by an administrator
    LINK_CODE_SENT = "link.code_sent"  # a one-time code mailed (denied: not a recipient)
    LINK_VERIFY = "link.verify"  # a right password or code (denied: a wrong one)
    LINK_OPEN = "link.open"  # a recipient shown what the link gives
    LINK_DOWNLOAD = "link.download"  # a file or a folder's zip downloaded through a link
    FILEREQUEST_UPLOAD = "filerequest.upload"  # a file received through a file request
    # Content
    FILE_READ = "file.read"
    FILE_WRITE = "file.write"
    FOLDER_CREATE = "folder.create"
    NODE_MOVE = "node.move"
    NODE_COPY = "node.copy"
    NODE_DELETE = "node.delete"
    TRASH_RESTORE = "trash.restore"
    VERSION_RESTORE = "version.restore"
    UPLOAD_CREATE = "upload.create"
    UPLOAD_TERMINATE = "upload.terminate"
    # Keys, maintenance, the log itself
    KEY_ROTATE_MASTER = "key.rotate_master"
    KEY_ROTATE_SPACE = "key.rotate_space"
    MAINTENANCE_GC = "maintenance.gc"
    MAINTENANCE_FSCK = "maintenance.fsck"
    AUDIT_READ = "audit.read"  # entries read through the API
    AUDIT_REPORT = "audit.report"  # an access report, which opens personal contexts
    AUDIT_EXPORT = "audit.export"
    AUDIT_ARCHIVE = "audit.archive"
    AUDIT_ERASE = "audit.erase"  # a person's contexts erased (GDPR request)
    # Mail (docs/mail.md): enqueuing is part of the event that causes it, not an entry
    MAIL_FAILED = "mail.failed"  # the SMTP server refused a message for good (5xx)
    MAIL_TEST = "mail.test"  # an administrator asked for a test message
    USER_LANGUAGE = "user.language"  # the language of a user's mail set
    # Notifications (docs/notifications.md): the rows and their mail derive from other entries
    NOTIFY_FOLLOW = "notify.follow"  # a user follows a folder or a space
    NOTIFY_UNFOLLOW = "notify.unfollow"
    NOTIFY_PREFERENCES = "notify.preferences"  # e-mail delivery or privacy mode set
    # Ransomware detection and containment, see docs/ransomware.md
    RANSOMWARE_INCIDENT_OPEN = "ransomware.incident.open"  # a user contained (actor: system)
    RANSOMWARE_INCIDENT_RELEASE = "ransomware.incident.release"  # a false alarm: access back
    RANSOMWARE_INCIDENT_CONFIRM = "ransomware.incident.confirm"  # an attack: stays contained
    RANSOMWARE_CANARY_HIT = "ransomware.canary.hit"  # a decoy file written, moved or deleted
    # Antivirus (docs/antivirus.md): ids and the signature name, never a file name
    ANTIVIRUS_INFECTED = "antivirus.infected"  # an upload refused, or a rescan found a threat
    ANTIVIRUS_RESCAN = "antivirus.rescan"  # a rescan pass that scanned something (counts)
    # A roll-back batch of an incident (ids and counts; one per committed batch)
    RANSOMWARE_INCIDENT_RESTORE = "ransomware.incident.restore"
    SPACE_RESTORE = "space.restore"  # a point-in-time restore batch of a space or folder
