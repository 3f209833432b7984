"""Signing through a real PKCS#11 token: SoftHSM2 from Debian, with the key generated inside
the token and its certificate issued by the test CA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.models import Document, DocumentStatus, SignatureRequest, SignerFunction
from shared.pdf.signers import Pkcs11Signer, open_backend
from shared.pdf.signing import SigningError, StampText, make_timestamper, sign_pdf
from shared.pdf.validation import validate_signatures
from shared.services import audit
from shared.services.screening import ScreeningOverride, screen_document
from shared.services.signing import open_signer, sign
from shared.storage import get_storage
from shared.timeutil import today
from tests import factories
from tests.integration.signing.conftest import (
    Pki,
    SoftToken,
    draft,
    letter_pdf,
    pdfsig,
    qpdf_check,
    signer,
)

pytestmark = pytest.mark.usefixtures("signing_settings")


def _config(token: SoftToken) -> Pkcs11Signer:
    return Pkcs11Signer(
        module=token.module,
        token_label=token.label,
        key_label=token.key_label,
        pin_env="ZEGEL_TEST_TOKEN_PIN",
    )


def test_a_signature_made_on_the_token_is_valid_and_trusted(
    softhsm_token: SoftToken, pki: Pki, tsa_url: str, nss_db: str, tmp_path: Path
) -> None:
    with open_backend(_config(softhsm_token), secret=softhsm_token.pin) as backend:
        assert backend.kind == "pkcs11"
        assert backend.signer_name == softhsm_token.signer_name
        signed = sign_pdf(
            letter_pdf(),
            backend,
            field_name="Handtekening-1-1",
            stamp=StampText(softhsm_token.signer_name, "algemeen directeur", today()),
            timestamper=make_timestamper(tsa_url),
        )
    [checked] = pdfsig(signed, nss_db, tmp_path)
    assert checked.valid
    assert checked.trusted
    assert checked.signer == "Hanne Token"
    qpdf_check(signed, tmp_path)
    [result] = validate_signatures(signed, trust_roots=[pki.root.certificate])
    assert result.valid


def test_a_wrong_pin_is_refused(softhsm_token: SoftToken) -> None:
    with pytest.raises(SigningError) as caught:
        open_backend(_config(softhsm_token), secret="0000")
    assert caught.value.code == "wrong_pin"
    assert caught.value.message == "De pincode is onjuist; er is niets ondertekend."


def test_the_pin_comes_from_the_environment_when_not_typed(
    softhsm_token: SoftToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SigningError) as caught:
        open_backend(_config(softhsm_token), environ={})
    assert caught.value.code == "pin_required"
    monkeypatch.setenv("ZEGEL_TEST_TOKEN_PIN", softhsm_token.pin)
    with open_backend(_config(softhsm_token)) as backend:
        assert backend.signer_name == "Hanne Token"


def test_the_service_signs_through_the_token_configured_for_the_signer(
    session: Session,
    softhsm_token: SoftToken,
    pki: Pki,
    tmp_path: Path,
    nss_db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = json.loads(pki.signers_config_path.read_text())
    config["hanne"] = {
        "backend": "pkcs11",
        "module": softhsm_token.module,
        "token_label": softhsm_token.label,
        "key_label": softhsm_token.key_label,
        "pin_env": "ZEGEL_TEST_TOKEN_PIN",
    }
    path = tmp_path / "signers.json"
    path.write_text(json.dumps(config))
    monkeypatch.setenv("ZEGEL_SIGNERS_CONFIG_PATH", str(path))
    get_settings.cache_clear()

    org = factories.organisation(session)
    director = signer(session, org, "hanne", SignerFunction.ALGEMEEN_DIRECTEUR)
    document = draft(session, org, factories.citizen(session, org))
    screen_document(
        session,
        document,
        actor=factories.SYSTEM,
        override=ScreeningOverride(
            [SignerFunction.ALGEMEEN_DIRECTEUR], "Alleen de algemeen directeur (test)."
        ),
    )
    session.commit()
    [request] = session.scalars(
        select(SignatureRequest).where(SignatureRequest.document_id == document.id)
    ).all()
    ids, user_id, document_id = [request.id], director.id, document.id
    actor = audit.Actor.staff(director.id, director.name)
    with open_signer(session, user_id, secret=softhsm_token.pin) as backend:
        session.rollback()
        [outcome] = sign(ids, signer_user_id=user_id, backend=backend, actor=actor)
    assert outcome.signed, outcome.message
    fresh = session.get(Document, document_id)
    assert fresh is not None
    assert fresh.status is DocumentStatus.READY
    [checked] = pdfsig(get_storage().get(fresh.current_sha256), nss_db, tmp_path)
    assert checked.valid
    assert checked.trusted
