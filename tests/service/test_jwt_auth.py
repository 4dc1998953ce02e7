"""AUTH_MODE=jwt: tokens from a fake issuer whose JWKS is served over loopback.

Each way a token can be wrong gets its own envelope: 401 ``unauthorized`` with
``WWW-Authenticate: Bearer error="invalid_token"``, 403 ``insufficient_scope``,
503 ``auth_unavailable`` when the issuer's keys cannot be fetched; never a 500.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from service.auth import parse_jwks
from service.deps import TokenDep
from service.main import create_app
from tests.service.conftest import AUTH, make_settings, open_client
from tests.service.jwt_issuer import AUDIENCE, WRITE_SCOPE, FakeIssuer, SigningKeyPair

ITEMS = "/api/v1/items"
WIDGET = {"name": "widget", "price": "9.99"}


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    """A running fake issuer, stopped after the test."""
    fake = FakeIssuer().start()
    try:
        yield fake
    finally:
        fake.stop()


def jwt_app(tmp_path: Path, sqlite_template: Path, issuer: FakeIssuer, **overrides: Any) -> FastAPI:
    """The service in jwt mode on a migrated SQLite copy, plus a route echoing the subject."""
    database = tmp_path / "app.db"
    shutil.copy(sqlite_template, database)
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        auth_mode="jwt",
        auth_issuer=issuer.url,
        auth_audience=AUDIENCE,
        **overrides,
    )
    app = create_app(settings)

    @app.post("/whoami", dependencies=[TokenDep])
    async def whoami(request: Request) -> dict[str, Any]:
        return {"subject": request.state.auth_subject}

    return app


@pytest.fixture
async def client(
    tmp_path: Path, sqlite_template: Path, issuer: FakeIssuer
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the jwt-mode app (refresh at most once a minute)."""
    app = jwt_app(tmp_path, sqlite_template, issuer)
    async with open_client(app.state.settings, app) as http:
        yield http


async def post(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """POST an item with ``token`` as the bearer token."""
    return await client.post(ITEMS, json=WIDGET, headers={"Authorization": f"Bearer {token}"})


def assert_invalid(response: httpx.Response, reason: str) -> None:
    """401 ``unauthorized`` naming ``reason``, with an RFC 6750 invalid_token challenge."""
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert reason in error["message"]
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert error["request_id"] == response.headers["x-request-id"]


async def test_a_valid_rs256_token_writes_and_names_its_subject(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    created = await post(client, issuer.token())
    assert created.status_code == 201, created.text
    whoami = await client.post("/whoami", headers={"Authorization": f"Bearer {issuer.token()}"})
    assert whoami.json() == {"subject": "machine-client-1"}


async def test_a_valid_es256_token_writes(client: httpx.AsyncClient, issuer: FakeIssuer) -> None:
    assert (await post(client, issuer.token(issuer.ec))).status_code == 201


async def test_the_subject_falls_back_to_client_id(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = issuer.token(sub=None)
    whoami = await client.post("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert whoami.json() == {"subject": AUDIENCE}


async def test_a_missing_token_is_a_401_challenge(client: httpx.AsyncClient) -> None:
    response = await client.post(ITEMS, json=WIDGET)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_the_static_token_is_not_accepted_in_jwt_mode(client: httpx.AsyncClient) -> None:
    response = await client.post(ITEMS, json=WIDGET, headers=AUTH)
    assert_invalid(response, "malformed token")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 120}, "token expired"),
        ({"nbf": int(time.time()) + 300}, "token not yet valid"),
        ({"iss": "https://issuer.example"}, "another issuer"),
        ({"client_id": "someone-else"}, "another audience"),
        ({"aud": "someone-else"}, "another audience"),
        ({"token_use": "id", "aud": AUDIENCE}, "not an access token"),
        ({"exp": None}, "failed verification"),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "wrong-issuer",
        "wrong-client-id",
        "wrong-aud",
        "id-token",
        "no-exp",
    ],
)
async def test_a_wrong_token_is_refused(
    client: httpx.AsyncClient, issuer: FakeIssuer, claims: dict[str, Any], reason: str
) -> None:
    assert_invalid(await post(client, issuer.token(**claims)), reason)


async def test_exp_and_nbf_have_a_small_leeway(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    now = int(time.time())
    assert (await post(client, issuer.token(exp=now - 10))).status_code == 201
    assert (await post(client, issuer.token(nbf=now + 10))).status_code == 201


async def test_an_aud_list_with_the_audience_is_accepted(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = issuer.token(aud=["other", AUDIENCE], client_id=None)
    assert (await post(client, token)).status_code == 201


async def test_a_forged_signature_is_refused(client: httpx.AsyncClient, issuer: FakeIssuer) -> None:
    impostor = SigningKeyPair("RS256", kid=issuer.rsa.kid)
    assert_invalid(await post(client, issuer.token(impostor)), "bad signature")


async def test_alg_none_is_refused_before_any_key_is_fetched(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    for alg in ("none", "None", "NONE"):
        assert_invalid(await post(client, issuer.unsigned(alg)), "algorithm not accepted")
    assert issuer.fetches == 0


async def test_hs256_signed_with_the_public_key_is_refused(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    """The key-confusion attack: the issuer's public PEM used as an HMAC secret."""
    assert (await post(client, issuer.token())).status_code == 201  # keys now cached
    forged = issuer.unsigned("HS256", secret=issuer.rsa.public_pem())
    assert_invalid(await post(client, forged), "algorithm not accepted")


async def test_an_algorithm_other_than_the_keys_is_refused(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    """ES256 claimed in the header, the RSA key's kid: the key decides, not the header."""
    forged = issuer.unsigned("ES256", secret=b"x")
    assert_invalid(await post(client, forged), "does not match the signing key")


async def test_a_token_without_the_write_scope_is_a_403(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await post(client, issuer.token(scope="items:read"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert response.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{WRITE_SCOPE}"'
    )
    # Okta/Azure style: a list in "scp".
    assert (await post(client, issuer.token(scope=None, scp=[WRITE_SCOPE]))).status_code == 201


async def test_the_write_scope_is_configurable(
    tmp_path: Path, sqlite_template: Path, issuer: FakeIssuer
) -> None:
    app = jwt_app(tmp_path, sqlite_template, issuer, auth_write_scope="catalogue/admin")
    async with open_client(app.state.settings, app) as client:
        assert (await post(client, issuer.token())).status_code == 403
        assert (await post(client, issuer.token(scope="catalogue/admin"))).status_code == 201


async def test_reads_need_no_token(client: httpx.AsyncClient, issuer: FakeIssuer) -> None:
    assert (await client.get(ITEMS)).status_code == 200
    assert issuer.fetches == 0


async def test_keys_are_fetched_once_and_cached(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    for _ in range(5):
        assert (await post(client, issuer.token())).status_code == 201
    assert issuer.fetches == 1


async def test_an_unknown_kid_refreshes_and_rotated_keys_are_picked_up(
    tmp_path: Path, sqlite_template: Path, issuer: FakeIssuer
) -> None:
    app = jwt_app(tmp_path, sqlite_template, issuer, auth_jwks_refresh_seconds=0.2)
    async with open_client(app.state.settings, app) as client:
        old_token = issuer.token()
        assert (await post(client, old_token)).status_code == 201
        rotated = issuer.rotate()
        await asyncio.sleep(0.25)
        assert (await post(client, issuer.token(rotated))).status_code == 201
        assert issuer.fetches == 2
        # The old key is gone from the JWKS, so is its token's key from the cache.
        await asyncio.sleep(0.25)
        assert_invalid(await post(client, old_token), "unknown signing key")


async def test_unknown_kids_refresh_at_most_once_per_interval(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    assert (await post(client, issuer.token())).status_code == 201
    responses = await asyncio.gather(
        *(post(client, issuer.token(kid=uuid.uuid4().hex)) for _ in range(20))
    )
    for response in responses:
        assert_invalid(response, "unknown signing key")
    # The first fetch, then none: the 30 s default interval has not passed.
    assert issuer.fetches == 1
    # A rotation inside the interval is picked up once it has passed (not here).
    assert_invalid(await post(client, issuer.token(issuer.rotate())), "unknown signing key")
    assert issuer.fetches == 1


async def test_an_unreachable_issuer_is_a_503_never_a_500(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    issuer.mode = "error"
    response = await post(client, issuer.token())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "auth_unavailable"
    assert response.headers["retry-after"] == "5"
    # Rate-bounded while down too: the second request does not fetch again.
    assert (await post(client, issuer.token())).status_code == 503
    assert issuer.fetches == 1


async def test_keys_already_known_outlive_an_issuer_outage(
    tmp_path: Path, sqlite_template: Path, issuer: FakeIssuer
) -> None:
    app = jwt_app(tmp_path, sqlite_template, issuer, auth_jwks_refresh_seconds=0.1)
    async with open_client(app.state.settings, app) as client:
        assert (await post(client, issuer.token())).status_code == 201
        issuer.mode = "error"
        await asyncio.sleep(0.15)
        unknown = await post(client, issuer.token(kid="not-published"))
        assert unknown.status_code == 503
        assert (await post(client, issuer.token())).status_code == 201


async def test_a_hanging_issuer_times_out_into_a_503(
    tmp_path: Path, sqlite_template: Path, issuer: FakeIssuer
) -> None:
    app = jwt_app(tmp_path, sqlite_template, issuer, auth_jwks_timeout_seconds=0.2)
    issuer.mode = "hang"
    async with open_client(app.state.settings, app) as client:
        started = time.monotonic()
        response = await post(client, issuer.token())
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "auth_unavailable"
    assert elapsed < 1.5


async def test_the_event_loop_keeps_serving_while_keys_download(
    tmp_path: Path, sqlite_template: Path, issuer: FakeIssuer
) -> None:
    """The download runs in a thread: a read completes while a write waits for the JWKS."""
    app = jwt_app(tmp_path, sqlite_template, issuer, auth_jwks_timeout_seconds=1.0)
    issuer.mode = "hang"
    async with open_client(app.state.settings, app) as client:
        write = asyncio.create_task(post(client, issuer.token()))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        assert (await client.get("/health")).status_code == 200
        assert time.monotonic() - started < 0.5
        assert not write.done()
        assert (await write).status_code == 503


async def test_token_mode_names_the_fixed_principal(tmp_path: Path, sqlite_template: Path) -> None:
    database = tmp_path / "app.db"
    shutil.copy(sqlite_template, database)
    app = create_app(make_settings(database_url=f"sqlite+aiosqlite:///{database}"))

    @app.post("/whoami", dependencies=[TokenDep])
    async def whoami(request: Request) -> dict[str, Any]:
        return {"subject": request.state.auth_subject}

    async with open_client(app.state.settings, app) as client:
        assert (await client.post("/whoami", headers=AUTH)).json() == {"subject": "token"}
        bad = await client.post("/whoami", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401


def test_only_asymmetric_signing_keys_are_taken_from_a_jwks() -> None:
    rsa, ec = SigningKeyPair("RS256"), SigningKeyPair("ES256")
    document = {
        "keys": [
            rsa.jwk,
            ec.jwk,
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
            {**rsa.jwk, "kid": "rsa-enc", "use": "enc"},
            {**rsa.jwk, "kid": "rsa-as-hs", "alg": "HS256"},
            {**rsa.jwk, "kid": "rsa-ps", "alg": "PS256"},
            {**ec.jwk, "kid": "ec-as-rs", "alg": "RS256"},
            {"kid": "junk"},
            "not a key",
        ]
    }
    keys = parse_jwks(document)
    assert {kid: key.algorithm for kid, key in keys.items()} == {
        rsa.kid: "RS256",
        ec.kid: "ES256",
    }
    with pytest.raises(ValueError, match="not a JWKS"):
        parse_jwks({"keys": "nope"})
