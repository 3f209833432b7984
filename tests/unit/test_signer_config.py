"""The signer configuration file and the development PKI behind `zegel demo`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.pdf import devpki
from shared.pdf.signers import (
    Pkcs11Signer,
    Pkcs12Signer,
    load_signer_configs,
    open_backend,
    parse_signer_configs,
)
from shared.pdf.signing import SigningError


def test_both_backends_are_read() -> None:
    configs = parse_signer_configs(
        {
            "burgemeester": {
                "backend": "pkcs12",
                "path": "/etc/zegel/els.p12",
                "passphrase_env": "ZEGEL_PASSPHRASE_ELS",
            },
            "directeur": {
                "backend": "pkcs11",
                "module": "/usr/lib/softhsm/libsofthsm2.so",
                "token_label": "zegel",
                "key_label": "koen",
                "pin_env": "ZEGEL_PIN_KOEN",
            },
        }
    )
    assert configs["burgemeester"] == Pkcs12Signer(
        Path("/etc/zegel/els.p12"), "ZEGEL_PASSPHRASE_ELS"
    )
    assert configs["directeur"] == Pkcs11Signer(
        "/usr/lib/softhsm/libsofthsm2.so", "zegel", "koen", "ZEGEL_PIN_KOEN"
    )


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"backend": "pkcs12", "path": "x.p12", "passphrase": "geheim"}, "secrets do not belong"),
        ({"backend": "pkcs11", "module": "m", "token_label": "t", "pin": "1234"}, "secrets"),
        ({"backend": "eid"}, "'backend' must be"),
        ({"backend": "pkcs11", "module": "m", "token_label": "t"}, "'key_label'"),
        ("pkcs12", "expected an object"),
    ],
)
def test_a_wrong_entry_is_a_one_line_config_error(entry: object, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        parse_signer_configs({"iemand": entry})


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "signers.json"
    path.write_text("{niet json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_signer_configs(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_signer_configs(tmp_path / "ontbreekt.json")


def test_without_a_secret_the_signer_is_asked_for_one(tmp_path: Path) -> None:
    config = Pkcs12Signer(tmp_path / "x.p12", passphrase_env="ZEGEL_NIET_GEZET")
    with pytest.raises(SigningError) as caught:
        open_backend(config, environ={})
    assert caught.value.code == "pin_required"
    assert (
        caught.value.message == "Geef uw wachtwoord in om te ondertekenen; er is niets ondertekend."
    )


def test_the_dev_pki_is_created_once_and_reused(tmp_path: Path) -> None:
    signers = [devpki.DevSigner("burgemeester", "Els Vermeulen")]
    first = devpki.ensure_dev_pki(tmp_path, signers, passphrase="pw", passphrase_env="PW")
    second = devpki.ensure_dev_pki(
        tmp_path, [*signers, devpki.DevSigner("directeur", "Koen Wouters")], passphrase="pw"
    )
    assert first.root.certificate == second.root.certificate
    assert first.tsa.certificate == second.tsa.certificate
    config = json.loads(second.signers_config_path.read_text())
    assert set(config) == {"burgemeester", "directeur"}
    assert config["burgemeester"]["passphrase_env"] == "PW"
    with open_backend(
        load_signer_configs(second.signers_config_path)["burgemeester"], secret="pw"
    ) as backend:
        assert backend.signer_name == "Els Vermeulen"
    assert (tmp_path / "root-key.pem").stat().st_mode & 0o077 == 0
