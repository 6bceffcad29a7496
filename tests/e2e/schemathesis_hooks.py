"""schemathesis hooks for tests/e2e/test_schemathesis.py (loaded through schemathesis.toml).

tus bodies are raw bytes sent as application/offset+octet-stream, a media
type schemathesis has no serializer for: send them as octet-stream bytes.
"""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
