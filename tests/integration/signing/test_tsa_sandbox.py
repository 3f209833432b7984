"""The sandbox TSA speaks RFC 3161 over HTTP, as pyHanko's client expects; it is mounted in the
sandbox app and refuses to exist in production."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from asn1crypto import tsp
from litestar.testing import TestClient
from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from shared.config import load_settings
from shared.errors import ConfigError
from shared.integrations.tsa import sandbox
from shared.pdf.aio import run
from shared.pdf.signing import make_timestamper
from tests.integration.signing.conftest import Pki


def test_a_timestamp_request_gets_a_token_signed_by_the_tsa(pki: Pki, tsa_url: str) -> None:
    digest = bytes(range(32))
    token = run(make_timestamper(tsa_url).async_timestamp(digest, "sha256"))
    context = ValidationContext(
        trust_roots=[translate_pyca_cryptography_cert_to_asn1(pki.root.certificate)]
    )
    status = run(
        validate_tst_signed_data(token["content"], context, expected_tst_imprint=lambda _: digest)
    )
    assert status["intact"]
    assert status["valid"]
    assert status["validation_path"] is not None  # chains to the test root
    assert abs((status["timestamp"] - datetime.now(UTC)).total_seconds()) < 60
    [certificate] = [
        c.chosen
        for c in token["content"]["certificates"]
        if c.chosen.subject.native["common_name"] == "Zegel Test TSA"
    ]
    assert "time_stamping" in certificate.extended_key_usage_value.native


def test_wrong_content_type_and_garbage_are_refused(tsa_url: str) -> None:
    wrong = httpx.post(tsa_url, content=b"x", headers={"content-type": "text/plain"})
    assert wrong.status_code == 415
    garbage = httpx.post(
        tsa_url, content=b"rommel", headers={"content-type": "application/timestamp-query"}
    )
    assert garbage.status_code == 200
    assert garbage.headers["content-type"] == "application/timestamp-reply"
    status = tsp.PKIStatusInfo.load(garbage.content[2:])
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {"bad_data_format"}


def test_the_sandbox_app_mounts_the_tsa() -> None:
    from shared.integrations.sandbox_app import create_sandbox_app

    _nonce, query = TimeStamper().request_cms(bytes(32), "sha256")
    with TestClient(create_sandbox_app(None)) as client:
        assert 'href="/tsa"' in client.get("/").text
        assert client.get("/tsa").status_code == 200
        reply = client.post(
            "/tsa", content=query.dump(), headers={"content-type": "application/timestamp-query"}
        )
    assert reply.status_code == 200
    assert tsp.TimeStampResp.load(reply.content)["status"]["status"].native == "granted"


def test_the_router_refuses_to_exist_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    production = load_settings(
        env="production",
        secret_key="s" * 40,
        audit_key="a" * 40,
        protection_key="p" * 40,
        sandboxes_enabled=False,
        citizen_oidc_client_secret="c" * 40,
        staff_oidc_client_secret="d" * 40,
        magda_base_url="https://magda.example.be/gateway",
        magda_client_id="gemeente-testdorp",
        magda_private_key_path="/etc/zegel/magda-client.pem",
    )
    monkeypatch.setattr(sandbox, "get_settings", lambda: production)
    with pytest.raises(ConfigError, match="production"):
        sandbox.create_tsa_sandbox_router()
