"""JWT mutations are all 401 in the envelope; a valid token reaches an authenticated route."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import jwt
import pytest
from tests.conftest import API, TEST_JWT_SECRET

from estuary_checkout.app import create_app
from estuary_checkout.auth.service import VerifiedTokens

ROUTE = f"{API}/credits/balance"


def _claims(**over: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": "test|jwt-user",
        "aud": "estuary-checkout",
        "exp": int(time.time()) + 600,
    }
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _alg_none(claims: dict[str, object]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def _tampered() -> str:
    token = jwt.encode(_claims(), TEST_JWT_SECRET, algorithm="HS256")
    header, _payload, sig = token.split(".")
    evil = _b64(json.dumps(_claims(sub="test|someone-else", roles=["admin"])).encode())
    return f"{header}.{evil}.{sig}"


def _hs_with_public_key_confusion() -> str:
    # RS/HS confusion: the token claims HS384, which settings never allow
    return jwt.encode(_claims(), TEST_JWT_SECRET, algorithm="HS384")


MUTATIONS = {
    "alg_none": lambda: _alg_none(_claims()),
    "other_key": lambda: jwt.encode(_claims(), "another-secret-" + "y" * 32, algorithm="HS256"),
    "expired": lambda: jwt.encode(_claims(exp=int(time.time()) - 3600), TEST_JWT_SECRET, algorithm="HS256"),
    "missing_exp": lambda: jwt.encode(_claims(exp=None), TEST_JWT_SECRET, algorithm="HS256"),
    "wrong_aud": lambda: jwt.encode(_claims(aud="someone-else"), TEST_JWT_SECRET, algorithm="HS256"),
    "missing_aud": lambda: jwt.encode(_claims(aud=None), TEST_JWT_SECRET, algorithm="HS256"),
    "missing_sub": lambda: jwt.encode(_claims(sub=None), TEST_JWT_SECRET, algorithm="HS256"),
    "tampered_payload": _tampered,
    "other_algorithm": _hs_with_public_key_confusion,
    "garbage": lambda: "not-a-jwt",
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_mutated_tokens_are_401(client, name):
    r = await client.get(ROUTE, headers={"Authorization": f"Bearer {MUTATIONS[name]()}"})
    assert r.status_code == 401, r.text
    body = r.json()
    assert set(body) == {"error", "details", "code"}
    assert body["code"] in {"INVALID_TOKEN", "TOKEN_EXPIRED"}


async def test_missing_header_is_401(client):
    r = await client.get(ROUTE)
    assert r.status_code == 401
    assert r.json()["code"] == "UNAUTHORIZED"
    r = await client.get(ROUTE, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401


async def test_valid_token_creates_user_once(client, session):
    from sqlalchemy import func, select

    from estuary_checkout.users.models import User

    token = jwt.encode(
        _claims(sub="test|first-sight", email="first@example.com"), TEST_JWT_SECRET, algorithm="HS256"
    )
    for _ in range(2):
        r = await client.get(ROUTE, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert r.json() == {
            "balance_cents": 0,
            "currency": "usd",
            "held_cents": 0,
            "last_updated": None,
            "balances": [],
        }
    count = (
        await session.execute(
            select(func.count()).select_from(User).where(User.external_id == "test|first-sight")
        )
    ).scalar_one()
    assert count == 1


async def test_wrong_issuer_is_401_when_issuer_configured(app_state, client):
    from estuary_checkout.auth.service import decode_token
    from estuary_checkout.errors import Unauthorized

    settings = app_state.settings.model_copy(update={"jwt_issuer": "https://platform.example"})
    good = jwt.encode(_claims(iss="https://platform.example"), TEST_JWT_SECRET, algorithm="HS256")
    assert decode_token(settings, good).sub == "test|jwt-user"
    for bad in (_claims(iss="https://evil.example"), _claims()):
        with pytest.raises(Unauthorized):
            decode_token(settings, jwt.encode(bad, TEST_JWT_SECRET, algorithm="HS256"))


def test_rs256_pinned(app_state):
    """With RS256 configured, an HS256 token signed with the public key text is refused."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from estuary_checkout.auth.service import create_token, decode_token
    from estuary_checkout.errors import Unauthorized

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = app_state.settings.model_copy(
        update={"jwt_algorithm": "RS256", "jwt_public_key": public_pem, "jwt_private_key": private_pem}
    )
    token = create_token(settings, sub="test|rsa", roles=["admin"])
    assert decode_token(settings, token).roles == ("admin",)
    with pytest.raises(Unauthorized):
        decode_token(settings, jwt.encode(_claims(), TEST_JWT_SECRET, algorithm="HS256"))


@pytest.mark.parametrize("name", ["tampered_payload", "other_key"])
async def test_mutated_token_is_401_after_the_genuine_one_was_cached(client, name):
    """The verified-token cache is keyed by the exact token: a valid call first changes nothing."""
    good = jwt.encode(_claims(), TEST_JWT_SECRET, algorithm="HS256")
    assert (await client.get(ROUTE, headers={"Authorization": f"Bearer {good}"})).status_code == 200
    bad = MUTATIONS[name]()
    resp = await client.get(ROUTE, headers={"Authorization": f"Bearer {bad}"})
    assert resp.status_code == 401
    assert resp.json()["code"] in ("INVALID_TOKEN", "TOKEN_EXPIRED")


def test_cached_token_is_not_served_past_its_exp(app_state):
    from estuary_checkout.auth.service import VerifiedTokens, decode_token

    now = [time.time()]
    cache = VerifiedTokens(clock=lambda: now[0])
    exp = int(now[0]) + 60
    token = jwt.encode(_claims(exp=exp), TEST_JWT_SECRET, algorithm="HS256")
    assert decode_token(app_state.settings, token, cache).sub == "test|jwt-user"
    assert cache.get(token) is not None
    now[0] = exp - 1
    assert cache.get(token) is not None
    now[0] = exp
    assert cache.get(token) is None  # dropped: the next call verifies the token in full again


def test_token_cache_is_bounded():
    from estuary_checkout.auth.service import Claims, VerifiedTokens

    cache = VerifiedTokens(max_entries=3)
    for n in range(10):
        cache.put(f"t{n}", Claims(sub=f"s{n}", email=None, roles=()), time.time() + 60)
        assert len(cache._entries) <= 3
    assert cache.get("t9") is not None


@pytest.fixture
def client_with(app_state):  # type: ignore[no-untyped-def]
    """A client of the app over the shared database, with some settings changed."""

    @asynccontextmanager
    async def _client(**update: object) -> AsyncIterator[httpx.AsyncClient]:
        state = dataclasses.replace(
            app_state,
            settings=app_state.settings.model_copy(update=update),
            known_users={},
            verified_tokens=VerifiedTokens(),
        )
        transport = httpx.ASGITransport(app=create_app(state=state))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c

    return _client


OTHER_SECRET = "another-secret-" + "y" * 32


@pytest.mark.parametrize("env", ["dev", "test"])
async def test_bad_signature_in_dev_names_the_secret_file(client_with, tmp_path, env):
    """A token signed with another secret: in dev/test the 401 says whose secret the server
    checked (the file's path), never the secret itself."""
    var_dir = tmp_path / "var"
    async with client_with(env=env, jwt_secret=None, var_dir=var_dir) as client:
        r = await client.get(
            ROUTE, headers={"Authorization": f"Bearer {jwt.encode(_claims(), OTHER_SECRET)}"}
        )
        assert r.status_code == 401
        body = r.json()
        assert set(body) == {"error", "details", "code"}
        assert body["code"] == "INVALID_TOKEN"
        path = str(var_dir / "jwt_secret")
        assert "signature does not match this server's key" in body["error"]
        assert path in body["error"]
        assert "CHECKOUT_VAR_DIR" in body["error"]
        assert body["details"]["key_source"] == path
        server_secret = (var_dir / "jwt_secret").read_text().strip()
        assert server_secret not in r.text
        # and a token signed with that file's secret is accepted
        good = jwt.encode(_claims(), server_secret, algorithm="HS256")
        assert (await client.get(ROUTE, headers={"Authorization": f"Bearer {good}"})).status_code == 200


async def test_bad_signature_with_a_configured_secret_names_the_setting(client):
    r = await client.get(ROUTE, headers={"Authorization": f"Bearer {jwt.encode(_claims(), OTHER_SECRET)}"})
    assert r.status_code == 401
    body = r.json()
    assert body["code"] == "INVALID_TOKEN"
    assert "from CHECKOUT_JWT_SECRET" in body["error"]
    assert body["details"]["key_source"] == "CHECKOUT_JWT_SECRET"
    assert TEST_JWT_SECRET not in r.text


async def test_bad_signature_in_production_stays_generic(client_with, tmp_path):
    async with client_with(env="production", var_dir=tmp_path / "var") as client:
        r = await client.get(
            ROUTE, headers={"Authorization": f"Bearer {jwt.encode(_claims(), OTHER_SECRET)}"}
        )
    assert r.status_code == 401
    assert r.json() == {
        "error": "Invalid token",
        "details": {"reason": "Signature verification failed"},
        "code": "INVALID_TOKEN",
    }
    assert "CHECKOUT_JWT_SECRET" not in r.text
    assert str(tmp_path) not in r.text
