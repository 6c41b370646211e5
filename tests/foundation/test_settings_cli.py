"""Production refuses dev secrets; one var dir whatever the cwd; the CLI mints tokens and seeds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from estuary_checkout import config
from estuary_checkout.auth.service import decode_token
from estuary_checkout.cli import app as cli_app
from estuary_checkout.config import Settings, default_var_dir

ROOT = Path(__file__).resolve().parents[2]


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


def test_dev_secret_generated_once(tmp_path):
    s = Settings(env="dev", var_dir=tmp_path / "state", _env_file=None)  # type: ignore[call-arg]
    first = s.resolved_jwt_secret()
    assert len(first) >= 32
    again = Settings(env="dev", var_dir=tmp_path / "state", _env_file=None)  # type: ignore[call-arg]
    assert again.resolved_jwt_secret() == first
    assert (tmp_path / "state" / "jwt_secret").stat().st_mode & 0o777 == 0o600


def test_default_var_dir_is_the_checkouts_whatever_the_cwd(tmp_path, monkeypatch):
    """Run from this checkout (an editable install), every command uses <checkout>/var, wherever
    it is started from; the default SQLite database lives there too."""
    monkeypatch.delenv("CHECKOUT_VAR_DIR")
    seen = set()
    for cwd in (tmp_path, ROOT / "src" / "estuary_checkout", ROOT):
        monkeypatch.chdir(cwd)
        s = Settings(env="dev", _env_file=None)  # type: ignore[call-arg]
        seen.add((s.var_dir, s.database_url, s.jwt_secret_file))
    assert seen == {
        (ROOT / "var", f"sqlite+aiosqlite:///{ROOT / 'var' / 'checkout.db'}", ROOT / "var" / "jwt_secret")
    }


def test_var_dir_outside_a_checkout_is_per_user(tmp_path, monkeypatch):
    installed = tmp_path / "site-packages" / "estuary_checkout"
    other = tmp_path / "other" / "src" / "estuary_checkout"
    ours = tmp_path / "checkout" / "src" / "estuary_checkout"
    for package_dir in (installed, other, ours):
        package_dir.mkdir(parents=True)
    (tmp_path / "other" / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    (tmp_path / "checkout" / "pyproject.toml").write_text('[project]\nname = "estuary-checkout"\n')

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_var_dir(installed) == tmp_path / "xdg" / "estuary-checkout"
    assert default_var_dir(other) == tmp_path / "xdg" / "estuary-checkout"
    assert default_var_dir(ours) == tmp_path / "checkout" / "var"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_var_dir(installed) == tmp_path / "home" / ".local" / "state" / "estuary-checkout"


def test_token_minted_from_another_folder_is_accepted_by_the_server(tmp_path, monkeypatch, database_url):
    """`estuary-checkout token` run outside the project folder signs with the dev secret the
    server (started from the project root) verifies with: one var dir for every command."""
    checkout = tmp_path / "checkout"
    (checkout / "src" / "estuary_checkout").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "estuary-checkout"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setattr(config, "PACKAGE_DIR", checkout / "src" / "estuary_checkout")
    monkeypatch.delenv("CHECKOUT_VAR_DIR")
    monkeypatch.delenv("CHECKOUT_JWT_SECRET", raising=False)
    monkeypatch.setenv("CHECKOUT_ENV", "dev")
    monkeypatch.setenv("CHECKOUT_DATABASE_URL", database_url)

    monkeypatch.chdir(elsewhere)
    config.get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["token", "--user-email", "far-away@example.com"])
    finally:
        config.get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]

    monkeypatch.chdir(checkout)
    server = Settings(_env_file=None)  # type: ignore[call-arg]
    assert decode_token(server, token).email == "far-away@example.com"
    assert (checkout / "var" / "jwt_secret").exists()
    assert not (elsewhere / "var").exists()


def test_var_dir_setting_overrides_the_default(tmp_path, database_url):
    """CHECKOUT_VAR_DIR picks the folder; tokens minted from two folders share its secret."""
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k != "CHECKOUT_JWT_SECRET"}
    env.update(CHECKOUT_VAR_DIR=str(state), CHECKOUT_DATABASE_URL=database_url, CHECKOUT_ENV="dev")
    tokens = []
    for name in ("a", "b"):
        cwd = tmp_path / name
        cwd.mkdir()
        r = _cli(["token", "--user-email", "override@example.com"], env, cwd=cwd)
        assert r.returncode == 0, r.stderr
        tokens.append(r.stdout.strip().splitlines()[-1])
        assert not (cwd / "var").exists()
    server = Settings(env="dev", var_dir=state, _env_file=None)  # type: ignore[call-arg]
    assert [decode_token(server, t).email for t in tokens] == ["override@example.com"] * 2
    assert server.jwt_secret_file == state / "jwt_secret"
    assert server.jwt_secret_file.exists()


def test_var_dir_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CHECKOUT_VAR_DIR", str(tmp_path / "from-env"))
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.var_dir == tmp_path / "from-env"
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'from-env' / 'checkout.db'}"
    # a relative value is read against the folder the command starts in, once, into an absolute path
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHECKOUT_VAR_DIR", "rel")
    assert Settings(_env_file=None).var_dir == tmp_path / "rel"  # type: ignore[call-arg]
    # an explicit database URL is kept as it is
    monkeypatch.setenv("CHECKOUT_DATABASE_URL", "postgresql+asyncpg://db.example/checkout")
    assert Settings(_env_file=None).database_url == "postgresql+asyncpg://db.example/checkout"  # type: ignore[call-arg]


def _cli(args, env, cwd=None):
    exe = os.path.join(os.path.dirname(sys.executable), "estuary-checkout")
    return subprocess.run(
        [exe, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


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
