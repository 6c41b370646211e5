"""Django's sign-in reaches the checkout two ways: a short-lived token from GET /checkout-token,
or the session cookie itself (unsafe methods then need Django's CSRF token and a trusted Origin)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import override_settings

from host import checkout_tokens
from tests.conftest import API, HostCatalog, Stack, make_user, sign_in

FOREIGN_ORIGIN = "http://evil.example"


def _checkout_user(stack: Stack, sub: str) -> tuple[str | None, str] | None:
    """The checkout's own row for `sub` (email, roles), read from its database."""
    path = stack.checkout_settings.database_url.split(":///", 1)[1]
    with sqlite3.connect(path) as db:
        row = db.execute('SELECT email, roles FROM "user" WHERE external_id = ?', (sub,)).fetchone()
    return row


def _quote_body(catalog: HostCatalog) -> dict[str, Any]:
    return {
        "checkout_type": "bundle",
        "items": [
            {"service_id": catalog.bundle.checkout_id, "practitioner_id": catalog.practitioner.checkout_id}
        ],
    }


# --- GET /checkout-token ----------------------------------------------------------------------


def test_checkout_token_needs_a_signed_in_user(http: httpx.Client) -> None:
    r = http.get("/checkout-token")
    assert r.status_code == 401
    assert r.json()["code"] == "NOT_SIGNED_IN"


def test_checkout_token_is_short_lived_and_accepted_by_the_checkout(stack: Stack, http: httpx.Client) -> None:
    from estuary_checkout.auth.service import decode_token

    user = make_user()
    sign_in(http, user)
    r = http.get("/checkout-token")
    assert r.status_code == 200
    assert "no-store" in r.headers["cache-control"]
    token = r.json()["token"]
    # verified exactly as the service verifies it (algorithm and audience pinned by its settings)
    claims = decode_token(stack.checkout_settings, token)
    assert (claims.sub, claims.email, claims.roles) == (str(user.pk), user.email, ())
    import jwt

    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["aud"] == "estuary-checkout"
    assert 0 < raw["exp"] - time.time() <= 300
    balance = http.get(f"{API}/credits/balance", headers={"Authorization": f"Bearer {token}"})
    assert balance.status_code == 200
    assert _checkout_user(stack, str(user.pk)) == (user.email, "[]")


def test_admin_role_only_with_the_hosts_permission(stack: Stack, http: httpx.Client) -> None:
    from estuary_checkout.auth.service import decode_token

    admin = make_user(admin=True)
    sign_in(http, admin)
    token = http.get("/checkout-token").json()["token"]
    assert decode_token(stack.checkout_settings, token).roles == ("admin",)
    listed = http.get(f"{API}/admin/practitioners", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200

    staff = make_user()
    staff.is_staff = True  # Django staff alone is not a checkout operator
    staff.save()
    staff_token, _ = checkout_tokens.for_user(staff)
    assert decode_token(stack.checkout_settings, staff_token).roles == ()


def test_rs256_tokens_verify_with_the_public_key_only(stack: Stack) -> None:
    from estuary_checkout.auth.service import decode_token
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
    user = make_user()
    with override_settings(CHECKOUT_JWT_ALGORITHM="RS256", CHECKOUT_JWT_PRIVATE_KEY=private_pem):
        token, _ = checkout_tokens.for_user(user)
    service = stack.checkout_settings.model_copy(
        update={"jwt_algorithm": "RS256", "jwt_public_key": public_pem}
    )
    assert decode_token(service, token).sub == str(user.pk)
    # the service pins its algorithm: the same token is refused by an HS256 configuration
    with pytest.raises(Unauthorized):
        decode_token(stack.checkout_settings, token)


# --- the session cookie ------------------------------------------------------------------------


def test_session_cookie_get_is_signed_in_as_the_django_user(stack: Stack, http: httpx.Client) -> None:
    user = make_user()
    sign_in(http, user)
    r = http.get(f"{API}/credits/balance")
    assert r.status_code == 200, r.text
    assert _checkout_user(stack, str(user.pk)) == (user.email, "[]")


def test_session_cookie_post_without_csrf_token_is_refused(
    http: httpx.Client, pushed_catalog: HostCatalog, stack: Stack
) -> None:
    sign_in(http, make_user())
    r = http.post(
        f"{API}/checkout/calculate-price", json=_quote_body(pushed_catalog), headers={"Origin": stack.url}
    )
    assert r.status_code == 403
    assert r.json()["code"] == "CSRF_FAILED"


def test_session_cookie_post_from_a_foreign_origin_is_refused(
    http: httpx.Client, pushed_catalog: HostCatalog
) -> None:
    sign_in(http, make_user())
    headers = {"X-CSRFToken": http.cookies["csrftoken"], "Origin": FOREIGN_ORIGIN}
    r = http.post(f"{API}/checkout/calculate-price", json=_quote_body(pushed_catalog), headers=headers)
    assert r.status_code == 403
    assert r.json()["code"] == "CSRF_FAILED"


def test_session_cookie_post_without_origin_is_refused(
    http: httpx.Client, pushed_catalog: HostCatalog
) -> None:
    sign_in(http, make_user())
    headers = {"X-CSRFToken": http.cookies["csrftoken"]}
    r = http.post(f"{API}/checkout/calculate-price", json=_quote_body(pushed_catalog), headers=headers)
    assert r.status_code == 403


def test_session_cookie_post_with_csrf_token_and_own_origin_passes(
    stack: Stack, http: httpx.Client, pushed_catalog: HostCatalog
) -> None:
    sign_in(http, make_user())
    headers = {"X-CSRFToken": http.cookies["csrftoken"], "Origin": stack.url}
    r = http.post(f"{API}/checkout/calculate-price", json=_quote_body(pushed_catalog), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["subtotal_cents"] == 40000


def test_trusted_origin_setting_admits_another_front_end(
    stack: Stack, http: httpx.Client, pushed_catalog: HostCatalog
) -> None:
    sign_in(http, make_user())
    headers = {"X-CSRFToken": http.cookies["csrftoken"], "Origin": "https://shop.example"}
    with override_settings(CSRF_TRUSTED_ORIGINS=["https://shop.example"]):
        r = http.post(f"{API}/checkout/calculate-price", json=_quote_body(pushed_catalog), headers=headers)
    assert r.status_code == 200, r.text


def test_a_bearer_token_takes_precedence_over_the_cookie(
    stack: Stack, http: httpx.Client, pushed_catalog: HostCatalog
) -> None:
    """A bearer token is not an ambient credential: no CSRF check, and it names the caller."""
    sign_in(http, make_user())
    other = make_user()
    token, _ = checkout_tokens.for_user(other)
    r = http.post(
        f"{API}/checkout/calculate-price",
        json=_quote_body(pushed_catalog),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    assert _checkout_user(stack, str(other.pk)) == (other.email, "[]")


def test_a_cookie_that_signs_nobody_in_is_a_401(http: httpx.Client) -> None:
    http.cookies.set("sessionid", "y" * 32)
    r = http.get(f"{API}/credits/balance")
    assert r.status_code == 401


def test_signing_out_ends_cookie_access(stack: Stack, http: httpx.Client) -> None:
    sign_in(http, make_user())
    cookie = http.cookies["sessionid"]
    assert http.get(f"{API}/credits/balance").status_code == 200
    out = http.post(
        "/accounts/logout/",
        data={"csrfmiddlewaretoken": http.cookies["csrftoken"]},
        headers={"Origin": stack.url},
    )
    assert out.status_code == 302
    http.cookies.set("sessionid", cookie)  # replaying the old cookie
    assert http.get(f"{API}/credits/balance").status_code == 401
