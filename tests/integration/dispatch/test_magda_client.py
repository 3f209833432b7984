"""The real MAGDA client against the sandbox over HTTP: the token flow with a JWT client
assertion, look-ups, messages with Idempotency-Key, statuses, bpost, and every kind of error."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from shared.config import load_settings
from shared.errors import ConfigError
from shared.integrations.magda import (
    Attachment,
    MagdaClient,
    MagdaConfig,
    MagdaNotFound,
    MagdaPermanentError,
    MagdaRetryableError,
    MessageRecipient,
    OutgoingMessage,
    client_from_settings,
    keys,
    sandbox,
    testdata,
)
from shared.integrations.magda.client import load_private_key
from tests.integration.dispatch.conftest import CLIENT_ID, SMALL_PDF, Magda

AN = testdata.person_by_key("an-janssens")
PIETER = testdata.person_by_key("pieter-de-smet")


def _client(magda: Magda, **changes: object) -> MagdaClient:
    config = MagdaConfig(
        base_url=magda.base_url,
        client_id=CLIENT_ID,
        private_key=load_private_key(magda.key_path),
        timeout_seconds=1.0,
    )
    return MagdaClient(MagdaConfig(**{**config.__dict__, **changes}))  # type: ignore[arg-type]


def _message(**changes: object) -> OutgoingMessage:
    base = OutgoingMessage(
        reference="2026/000001",
        subject_nl="Besluit over uw aanvraag",
        channel="EBOX",
        delivery_method="normal",
        recipient=MessageRecipient(name=AN.name, ebox_type="citizen", ssin=AN.ssin),
        attachments=(Attachment("besluit.pdf", SMALL_PDF),),
        portal_url="http://portaal.test/d/abc",
        sender_organisation="Gemeente Testdorp",
    )
    return OutgoingMessage(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_the_token_comes_from_a_signed_client_assertion_and_is_cached(magda: Magda) -> None:
    client = _client(magda)
    assertion = client.client_assertion()
    public = KeySet.import_key_set(keys.public_jwks(load_private_key(magda.key_path)))  # type: ignore[arg-type]
    claims = jwt.decode(assertion, public, algorithms=["ES256"]).claims
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == f"{magda.base_url}/oauth2/token"
    assert claims["exp"] - claims["iat"] <= 60
    client.person(AN.ssin)
    client.citizen_consent(AN.ssin)
    client.person(PIETER.ssin)
    assert magda.sandbox.stats()["tokenRequests"] == 1


def test_settings_build_the_same_client(magda: Magda) -> None:
    from shared.config import get_settings

    client = client_from_settings(get_settings())
    assert client.person(AN.ssin).name == "An Janssens"


def test_a_wrong_key_is_refused_with_a_clear_reason(magda: Magda) -> None:
    client = _client(magda, private_key=keys.generate_key())
    with pytest.raises(MagdaPermanentError) as raised:
        client.person(AN.ssin)
    assert raised.value.code == "token_refused"
    assert "MAGDA weigerde de aanmelding van Zegel" in raised.value.reason


def test_a_replayed_assertion_is_refused(magda: Magda) -> None:
    client = _client(magda)
    assertion = client.client_assertion()
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    assert httpx.post(f"{magda.base_url}/oauth2/token", data=form).status_code == 200
    again = httpx.post(f"{magda.base_url}/oauth2/token", data=form)
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"


def test_an_expired_token_is_renewed_once(magda: Magda) -> None:
    client = _client(magda)
    client.person(AN.ssin)
    magda.sandbox._tokens.clear()  # the gateway forgot it (expired early, restarted)
    assert client.person(AN.ssin).name == "An Janssens"
    assert magda.sandbox.stats()["tokenRequests"] == 2


def test_person_consent_and_enterprise_preferences(magda: Magda) -> None:
    client = _client(magda)
    person = client.person(AN.ssin)
    assert person.name == "An Janssens"
    assert person.address is not None
    assert person.address.street_line == "Kerkstraat 12"
    assert client.citizen_consent(AN.ssin).ebox_activated
    assert not client.citizen_consent(PIETER.ssin).ebox_activated
    assert client.person(testdata.NO_ADDRESS.ssin).address is None
    enterprise = client.enterprise_preferences(testdata.ENTERPRISES[0].enterprise_number)
    assert enterprise.ebox_activated
    assert enterprise.name == "Bouwbedrijf Zegelbeek NV"


def test_unknown_and_invalid_numbers(magda: Magda) -> None:
    client = _client(magda)
    with pytest.raises(MagdaNotFound) as unknown:
        client.person(testdata.UNKNOWN_SSIN)
    assert "Geen persoon gevonden" in unknown.value.reason
    wrong = AN.ssin[:9] + f"{(int(AN.ssin[9:]) + 1) % 100:02d}"
    with pytest.raises(MagdaPermanentError) as invalid:
        client.person(wrong)
    assert invalid.value.code == "magda_30001"
    assert "controlegetal" in invalid.value.reason


@pytest.mark.parametrize(
    ("mode", "code"), [("500", "http_500"), ("503", "http_503"), ("429", "http_429")]
)
def test_server_errors_and_throttling_are_retryable(magda: Magda, mode: str, code: str) -> None:
    magda.sandbox.fail_next(mode, endpoint="persons")
    with pytest.raises(MagdaRetryableError) as raised:
        _client(magda).person(AN.ssin)
    assert raised.value.code == code
    if mode == "429":
        assert raised.value.retry_after == 1.0
        assert "te veel vragen" in raised.value.reason


def test_a_timeout_is_retryable_and_the_repeat_returns_the_first_message(magda: Magda) -> None:
    client = _client(magda)
    magda.sandbox.fail_next("timeout")
    with pytest.raises(MagdaRetryableError) as raised:
        client.send_message(_message(), idempotency_key="key-1")
    assert raised.value.code == "timeout"
    assert "niet op tijd" in raised.value.reason
    again = client.send_message(_message(), idempotency_key="key-1")
    assert again.replayed
    stats = magda.sandbox.stats()
    assert stats["messages"] == 1
    assert stats["duplicates"] == 1
    assert again.message_id in magda.sandbox.messages


def test_a_permanent_refusal_carries_the_magda_exception(magda: Magda) -> None:
    magda.sandbox.fail_next("permanent")
    with pytest.raises(MagdaPermanentError) as raised:
        _client(magda).send_message(_message(), idempotency_key="key-2")
    assert raised.value.code == "magda_99001"
    assert raised.value.reason.startswith("MAGDA weigerde de vraag: ")
    assert magda.sandbox.stats()["messages"] == 0


def test_the_documentendienst_refuses_what_it_cannot_deliver(magda: Magda) -> None:
    client = _client(magda)
    no_ebox = MessageRecipient(name=PIETER.name, ebox_type="citizen", ssin=PIETER.ssin)
    with pytest.raises(MagdaPermanentError, match="eBox niet geactiveerd"):
        client.send_message(_message(recipient=no_ebox), idempotency_key="a")
    no_address = MessageRecipient(name="X")
    with pytest.raises(MagdaPermanentError, match="postadres is onvolledig"):
        client.send_message(_message(channel="PAPER", recipient=no_address), idempotency_key="b")
    not_pdf = (Attachment("x.pdf", b"geen pdf"),)
    with pytest.raises(MagdaPermanentError, match="geen PDF"):
        client.send_message(_message(attachments=not_pdf), idempotency_key="c")
    client.send_message(_message(), idempotency_key="d")
    with pytest.raises(MagdaPermanentError, match="al gebruikt voor een ander bericht"):
        client.send_message(_message(subject_nl="Iets anders"), idempotency_key="d")


def test_statuses_in_batches_of_500_and_bpost_for_registered_mail(magda: Magda) -> None:
    client = _client(magda)
    ebox = client.send_message(_message(), idempotency_key="e1")
    paper = client.send_message(
        _message(
            channel="PAPER",
            delivery_method="registered",
            recipient=MessageRecipient(name=PIETER.name, postal_address=PIETER.address),
        ),
        idempotency_key="p1",
    )
    ids = [ebox.message_id] + [f"onbekend-{n}" for n in range(600)]
    statuses = client.message_statuses(ids)
    assert [s.message_id for s in statuses] == [ebox.message_id]
    assert magda.sandbox.calls["statuses"] == 2, "601 ids take two requests"
    assert [e.type for e in statuses[0].events] == ["SUBMITTED", "DELIVERED_TO_EBOX", "READ"]
    tracked = client.bpost_status(paper.message_id)
    assert tracked.barcode.startswith("JJBE")
    assert tracked.status == "DELIVERED"
    assert tracked.attestation_available
    assert client.bpost_attestation(paper.message_id).startswith(b"%PDF-")
    with pytest.raises(MagdaNotFound):
        client.bpost_status(ebox.message_id)


def test_statuses_move_forward_over_time(magda: Magda) -> None:
    magda.sandbox.step_seconds = 0.3
    client = _client(magda)
    sent = client.send_message(_message(), idempotency_key="slow")
    assert client.message_status(sent.message_id).status == "SUBMITTED"
    time.sleep(0.35)
    assert client.message_status(sent.message_id).status == "DELIVERED_TO_EBOX"
    time.sleep(0.6)
    assert client.message_status(sent.message_id).status == "READ"


def test_the_ebox_page_lists_the_message_with_its_portal_link(magda: Magda) -> None:
    _client(magda).send_message(_message(), idempotency_key="page")
    page = httpx.get(f"{magda.base_url}/ebox/an-janssens")
    assert page.status_code == 200
    assert "Besluit over uw aanvraag" in page.text
    assert 'href="http://portaal.test/d/abc"' in page.text
    assert "Geen berichten" in httpx.get(f"{magda.base_url}/ebox/fatima-el-amrani").text


def test_failures_can_be_injected_over_http(magda: Magda) -> None:
    response = httpx.post(
        f"{magda.base_url}/_sandbox/fail", json={"mode": "503", "endpoint": "persons"}
    )
    assert response.status_code == 200
    with pytest.raises(MagdaRetryableError):
        _client(magda).person(AN.ssin)
    stats = httpx.get(f"{magda.base_url}/_sandbox/stats").json()
    assert stats["refused"] == 1


def test_the_sandbox_app_mounts_magda() -> None:
    from litestar.testing import TestClient

    from shared.integrations.sandbox_app import create_sandbox_app

    with TestClient(create_sandbox_app(None)) as client:
        assert 'href="/magda"' in client.get("/").text
        assert client.get("/magda/ebox").status_code == 200
        assert "An Janssens" in client.get("/magda/ebox").text


def test_the_sandbox_refuses_to_exist_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    production = load_settings(
        env="production",
        secret_key="s" * 40,
        audit_key="a" * 40,
        protection_key="p" * 40,
        sandboxes_enabled=False,
        citizen_oidc_client_secret="c" * 40,
        staff_oidc_client_secret="d" * 40,
        magda_base_url="https://magda.vlaanderen.be/gateway",
        magda_client_id="gemeente-zegelbeek",
        magda_private_key_path="/etc/zegel/magda.pem",
    )
    monkeypatch.setattr(sandbox, "get_settings", lambda: production)
    with pytest.raises(ConfigError, match="production"):
        sandbox.create_magda_sandbox_router()


def test_message_json_shape() -> None:
    data = _message().to_json()
    assert data["recipient"] == {"name": AN.name, "eboxType": "citizen", "ssin": AN.ssin}
    assert data["channel"] == "EBOX"
    assert data["deliveryMethod"] == "normal"
    assert data["subject"] == {"nl": "Besluit over uw aanvraag"}
    assert json.dumps(data)
