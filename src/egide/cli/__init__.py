"""The `egide` command: administration and file operations on a local data directory."""
