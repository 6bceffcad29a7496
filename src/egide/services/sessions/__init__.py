"""Web sessions: server-side, revocable, locked when idle, ended after a lifetime."""
