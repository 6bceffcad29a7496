"""Metrics, access logs and security headers: useful, and never holding patient data."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from egide.web.observability import JsonFormatter

BASE = "/api/v1/spaces/cardio"


def test_security_headers_and_request_id(alice_client: TestClient) -> None:
    response = alice_client.get("/api/v1/me", headers={"X-Request-Id": "trace-42"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-request-id"] == "trace-42"
    generated = alice_client.get("/api/v1/me", headers={"X-Request-Id": "bad id\n!"})
    assert generated.headers["x-request-id"] != "bad id\n!"
    assert len(generated.headers["x-request-id"]) == 16


def test_metrics_count_requests_and_bytes_by_route(alice_client: TestClient) -> None:
    alice_client.put(f"{BASE}/content/Dossier MARTIN.pdf", content=b"x" * 5000)
    alice_client.get(f"{BASE}/content/Dossier MARTIN.pdf")
    text = alice_client.get("/metrics").text
    route = "/api/v1/spaces/{space}/content/{path:path}"
    assert f'egide_http_requests_total{{method="PUT",route="{route}",status="201"}} 1.0' in text
    assert f'egide_http_requests_total{{method="GET",route="{route}",status="200"}} 1.0' in text
    assert "egide_uploads_in_progress 0.0" in text
    received = next(
        float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("egide_http_received_bytes_total")
    )
    assert received >= 5000
    assert "MARTIN" not in text


def test_access_log_lines_hold_no_path_or_name(
    alice_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="egide.access"):
        alice_client.put(f"{BASE}/content/IRM DUPONT Jean.pdf", content=b"%PDF")
        alice_client.get(f"{BASE}/content/IRM DUPONT Jean.pdf?version=zzz")
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if r.name == "egide.access"]
    assert len(lines) == 2
    for line in lines:
        entry = json.loads(line)
        assert entry["route"] == "/api/v1/spaces/{space}/content/{path:path}"
        assert {"request_id", "method", "status", "duration_ms", "bytes_in", "bytes_out"} <= set(
            entry
        )
        assert "DUPONT" not in line
        assert "zzz" not in line
        assert "egide_session" not in line
    assert json.loads(lines[1])["status"] == 404
