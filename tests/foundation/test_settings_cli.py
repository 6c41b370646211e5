"""Production refuses dev secrets; the CLI mints tokens and seeds."""

from __future__ import annotations

import os
import subprocess
import sys

import jwt
import pytest
from pydantic import ValidationError

from estuary_checkout.config import Settings


def test_production_refuses_dev_secrets():
    with pytest.raises(ValidationError, match="refusing to start in production"):
        Settings(env="production", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="STRIPE_SECRET_KEY"):
        Settings(
            env="production",
            jwt_secret="z" * 40,
            stripe_secret_key="sk_test_emulator",
            stripe_publishable_key="pk_live_" + "a" * 24,
            stripe_webhook_secret="whsec_" + "b" * 24,
            _env_file=None,  # type: ignore[call-arg]
        )
    ok = Settings(
        env="production",
        jwt_secret="z" * 40,
        stripe_secret_key="sk_live_" + "a" * 24,
        stripe_publishable_key="pk_live_" + "a" * 24,
        stripe_webhook_secret="whsec_" + "b" * 24,
        _env_file=None,  # type: ignore[call-arg]
    )
    assert ok.env == "production"


def test_dev_secret_generated_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings(env="dev", _env_file=None)  # type: ignore[call-arg]
    first = s.resolved_jwt_secret()
    assert len(first) >= 32
    assert Settings(env="dev", _env_file=None).resolved_jwt_secret() == first  # type: ignore[call-arg]
    assert (tmp_path / "var" / "jwt_secret").stat().st_mode & 0o777 == 0o600


def _cli(args, env):
    exe = os.path.join(os.path.dirname(sys.executable), "estuary-checkout")
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_cli_seed_and_token(database_url, tmp_path):
    env = {
        **os.environ,
        "CHECKOUT_DATABASE_URL": database_url,
        "CHECKOUT_JWT_SECRET": "cli-secret-" + "q" * 32,
        "CHECKOUT_ENV": "test",
    }
    r = _cli(["seed-demo"], env)
    assert r.returncode == 0, r.stderr
    r = _cli(["token", "--user-email", "admin@example.com", "--admin", "--ttl", "120"], env)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    claims = jwt.decode(token, "cli-secret-" + "q" * 32, algorithms=["HS256"], audience="estuary-checkout")
    assert claims["roles"] == ["admin"]
    assert claims["email"] == "admin@example.com"
    assert claims["exp"] - claims["iat"] == 120
