"""On Lambda the client address is the event's source IP, never a forwarded header."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Invoke
from .events import HTTP_API, http_event, result_header, result_json

UNROUTED = "/api/v1/nothing"  # a read under /api/ that needs no database: 404 until limited


def from_address(source_ip: str, forged: str) -> dict[str, Any]:
    """An HTTP API (2.0) event from ``source_ip`` claiming ``forged`` in X-Forwarded-For."""
    event = http_event(HTTP_API, "GET", UNROUTED, headers={"X-Forwarded-For": forged})
    event["requestContext"]["http"]["sourceIp"] = source_ip
    return event


def test_reads_are_counted_per_source_ip(monkeypatch: pytest.MonkeyPatch, invoke: Invoke) -> None:
    monkeypatch.setenv("RATE_LIMIT_READS", "2")
    # What the function gets from infra/documents/serverless.py.
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "0")
    statuses = [
        invoke(from_address("198.51.100.7", forged))["statusCode"]
        for forged in ("1.1.1.1", "2.2.2.2")
    ]
    assert statuses == [404, 404]
    limited = invoke(from_address("198.51.100.7", "3.3.3.3"))
    assert limited["statusCode"] == 429
    assert result_json(limited)["error"]["code"] == "rate_limited"
    assert result_header(limited, "ratelimit-policy") == '"reads";q=2;w=60'
    assert result_header(limited, "retry-after") is not None
    # Another source IP forging the first one's address has its own quota.
    assert invoke(from_address("198.51.100.8", "198.51.100.7"))["statusCode"] == 404
