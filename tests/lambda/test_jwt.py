"""AUTH_MODE=jwt through ``lambda_handler.handler``: the function's own event loop fetches the JWKS.

The keys are downloaded once per execution environment (in a worker thread
of the runtime's loop) and reused by the next invocations.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.service.jwt_issuer import AUDIENCE, FakeIssuer

from .conftest import Invoke
from .events import HTTP_API, SOURCES, http_event, result_header, result_json, result_text

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_env")]

WIDGET = {"name": "Widget", "price": "9.99"}


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIssuer]:
    """A running fake issuer, and the function's environment set to trust it."""
    fake = FakeIssuer().start()
    monkeypatch.setenv("AUTH_MODE", "jwt")
    monkeypatch.setenv("AUTH_ISSUER", fake.url)
    monkeypatch.setenv("AUTH_AUDIENCE", AUDIENCE)
    try:
        yield fake
    finally:
        fake.stop()


def bearer(token: str) -> dict[str, str]:
    """The Authorization header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("source", SOURCES)
def test_a_post_with_a_valid_jwt_creates_an_item(
    source: str, invoke: Invoke, issuer: FakeIssuer
) -> None:
    for name in ("A", "B"):
        event = http_event(
            source,
            "POST",
            "/api/v1/items",
            body={**WIDGET, "name": name},
            headers=bearer(issuer.token()),
        )
        created = invoke(event)
        assert created["statusCode"] == 201, result_text(created)
    # One download for the execution environment, not one per invocation.
    assert issuer.fetches == 1


def test_refusals_keep_the_envelope(invoke: Invoke, issuer: FakeIssuer) -> None:
    def post(token: str) -> dict[str, object]:
        event = http_event(HTTP_API, "POST", "/api/v1/items", body=WIDGET, headers=bearer(token))
        return invoke(event)

    expired = post(issuer.token(exp=1_000_000_000))
    assert expired["statusCode"] == 401
    assert result_json(expired)["error"]["code"] == "unauthorized"
    assert result_header(expired, "www-authenticate").startswith('Bearer error="invalid_token"')

    unscoped = post(issuer.token(scope="items:read"))
    assert unscoped["statusCode"] == 403
    assert result_json(unscoped)["error"]["code"] == "insufficient_scope"

    forged = post(issuer.unsigned("none"))
    assert forged["statusCode"] == 401

    static = invoke(
        http_event(
            HTTP_API, "POST", "/api/v1/items", body=WIDGET, headers={"Authorization": "Bearer x"}
        )
    )
    assert static["statusCode"] == 401


def test_an_unreachable_issuer_is_a_503(invoke: Invoke, issuer: FakeIssuer) -> None:
    issuer.mode = "error"
    event = http_event(
        HTTP_API, "POST", "/api/v1/items", body=WIDGET, headers=bearer(issuer.token())
    )
    result = invoke(event)
    assert result["statusCode"] == 503
    assert result_json(result)["error"]["code"] == "auth_unavailable"
