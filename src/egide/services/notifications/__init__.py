"""Notifications (issue 7 item 5, docs/notifications.md, ADR 26): follows, the in-app
list, e-mail immediately or as a digest, all derived from the audit log."""
