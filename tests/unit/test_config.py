from __future__ import annotations

import pytest

from shared.config import Environment, load_settings
from shared.errors import ConfigError

STRONG = "x" * 40


def test_development_defaults_load() -> None:
    settings = load_settings(env="development")
    assert settings.env is Environment.DEVELOPMENT
    assert settings.sandboxes_enabled


def test_production_refuses_default_secrets_and_says_which() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env="production", sandboxes_enabled=False)
    message = str(raised.value)
    assert "\n" not in message
    assert "ZEGEL_SECRET_KEY still has its development default" in message
    assert "ZEGEL_AUDIT_KEY" in message
    assert "ZEGEL_PROTECTION_KEY" in message


REAL_CLIENTS = {
    "citizen_oidc_client_secret": STRONG,
    "staff_oidc_client_secret": STRONG,
    "magda_base_url": "https://magda.example.be/gateway",
    "magda_client_id": "gemeente-testdorp",
    "magda_private_key_path": "/etc/zegel/magda-client.pem",
}


def test_production_refuses_sandboxes() -> None:
    with pytest.raises(ConfigError, match="ZEGEL_SANDBOXES_ENABLED must be false"):
        load_settings(
            env="production",
            secret_key=STRONG,
            audit_key=STRONG,
            protection_key=STRONG,
            sandboxes_enabled=True,
            **REAL_CLIENTS,
        )


def test_production_refuses_the_sandbox_client_secret() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            env="production",
            secret_key=STRONG,
            audit_key=STRONG,
            protection_key=STRONG,
            sandboxes_enabled=False,
        )
    assert "ZEGEL_CITIZEN_OIDC_CLIENT_SECRET still has its sandbox default" in str(raised.value)
    assert "ZEGEL_STAFF_OIDC_CLIENT_SECRET" in str(raised.value)


def test_production_refuses_the_magda_sandbox() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            env="production",
            secret_key=STRONG,
            audit_key=STRONG,
            protection_key=STRONG,
            sandboxes_enabled=False,
            citizen_oidc_client_secret=STRONG,
            staff_oidc_client_secret=STRONG,
        )
    message = str(raised.value)
    assert "ZEGEL_MAGDA_BASE_URL still points to the sandbox" in message
    assert "ZEGEL_MAGDA_CLIENT_ID still has its sandbox default" in message
    assert "ZEGEL_MAGDA_PRIVATE_KEY_PATH is not set" in message


def test_production_refuses_the_development_magda_key() -> None:
    with pytest.raises(ConfigError, match="ZEGEL_MAGDA_PRIVATE_KEY_PATH is the development key"):
        load_settings(
            env="production",
            secret_key=STRONG,
            audit_key=STRONG,
            protection_key=STRONG,
            sandboxes_enabled=False,
            dev_pki_path="var/pki",
            **{**REAL_CLIENTS, "magda_private_key_path": "var/pki/magda-client.jwk"},
        )


def test_production_refuses_short_secrets() -> None:
    with pytest.raises(ConfigError, match="ZEGEL_SECRET_KEY is shorter than 32"):
        load_settings(
            env="production",
            secret_key="short",
            audit_key=STRONG,
            protection_key=STRONG,
            sandboxes_enabled=False,
            **REAL_CLIENTS,
        )


def test_production_with_real_secrets_starts() -> None:
    settings = load_settings(
        env="production",
        secret_key=STRONG,
        audit_key=STRONG + "a",
        protection_key=STRONG + "b",
        sandboxes_enabled=False,
        **REAL_CLIENTS,
    )
    assert settings.is_production


def test_unknown_environment_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEGEL_ENV", "staging")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith("Invalid configuration: ZEGEL_ENV:")
    assert "\n" not in str(raised.value)


def test_production_offers_online_payment_only_with_stripe_itself() -> None:
    production = {
        "env": "production",
        "secret_key": STRONG,
        "audit_key": STRONG + "a",
        "protection_key": STRONG + "b",
        "sandboxes_enabled": False,
        **REAL_CLIENTS,
    }
    unconfigured = load_settings(**production)
    assert not unconfigured.stripe_enabled
    assert unconfigured.stripe_webhook_secret_values == []  # the sandbox's secret is public
    configured = load_settings(
        **production,
        stripe_api_base="https://api.stripe.com",
        stripe_secret_key="sk_live_" + STRONG,
        stripe_webhook_secrets=["whsec_" + STRONG],
    )
    assert configured.stripe_enabled
    assert configured.stripe_webhook_secret_values == ["whsec_" + STRONG]
    assert load_settings(env="development").stripe_enabled


def test_stripe_webhook_secrets_are_a_list_for_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEGEL_STRIPE_WEBHOOK_SECRETS", '["whsec_new", "whsec_old"]')
    settings = load_settings()
    assert [s.get_secret_value() for s in settings.stripe_webhook_secrets] == [
        "whsec_new",
        "whsec_old",
    ]
