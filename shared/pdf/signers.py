"""Which key each signer signs with: the signer configuration file (`ZEGEL_SIGNERS_CONFIG_PATH`).

A JSON object; each key is a staff member's OpenID Connect subject or Zegel user id, each value
the backend of that signer:

    {
      "burgemeester": {"backend": "pkcs12", "path": "/etc/zegel/els.p12",
                       "passphrase_env": "ZEGEL_PASSPHRASE_ELS"},
      "directeur":    {"backend": "pkcs11", "module": "/usr/lib/softhsm/libsofthsm2.so",
                       "token_label": "zegel", "key_label": "koen", "pin_env": "ZEGEL_PIN_KOEN"}
    }

PKCS#11 entries may add "cert_label" (default: the key label) and "chain_path" (PEM of the
intermediate certificates to embed). Secrets never sit in the file or in the database: a PIN
or passphrase comes from the environment variable the entry names, or from the signer at
signing time (`open_backend(..., secret=...)`, which wins).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ConfigError
from shared.pdf.signing import (
    NOTHING_SIGNED,
    SigningBackend,
    SigningError,
    load_certificates,
    open_pkcs11,
    open_pkcs12,
)


@dataclass(frozen=True)
class Pkcs12Signer:
    path: Path
    passphrase_env: str | None = None


@dataclass(frozen=True)
class Pkcs11Signer:
    module: str
    token_label: str
    key_label: str
    pin_env: str | None = None
    cert_label: str | None = None
    chain_path: Path | None = None


SignerConfig = Pkcs12Signer | Pkcs11Signer


def _text(
    entry: Mapping[str, object], name: str, where: str, *, required: bool = True
) -> str | None:
    value = entry.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: '{name}' must be a non-empty string")
    return value


def parse_signer_configs(
    data: object, *, source: str = "signer configuration"
) -> dict[str, SignerConfig]:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object of signers")
    configs: dict[str, SignerConfig] = {}
    for key, entry in data.items():
        where = f"{source}, signer {key!r}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected an object")
        if any(name in entry for name in ("pin", "passphrase", "password")):
            raise ConfigError(
                f"{where}: secrets do not belong in this file; name an environment variable"
                " with 'pin_env' or 'passphrase_env'"
            )
        backend = entry.get("backend")
        if backend == "pkcs12":
            configs[key] = Pkcs12Signer(
                path=Path(str(_text(entry, "path", where))),
                passphrase_env=_text(entry, "passphrase_env", where, required=False),
            )
        elif backend == "pkcs11":
            chain = _text(entry, "chain_path", where, required=False)
            configs[key] = Pkcs11Signer(
                module=str(_text(entry, "module", where)),
                token_label=str(_text(entry, "token_label", where)),
                key_label=str(_text(entry, "key_label", where)),
                pin_env=_text(entry, "pin_env", where, required=False),
                cert_label=_text(entry, "cert_label", where, required=False),
                chain_path=Path(chain) if chain else None,
            )
        else:
            raise ConfigError(f"{where}: 'backend' must be 'pkcs12' or 'pkcs11'")
    return configs


def load_signer_configs(path: Path) -> dict[str, SignerConfig]:
    """Read the signer configuration file; raise ConfigError with one line when it is wrong."""
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"ZEGEL_SIGNERS_CONFIG_PATH: cannot read {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"ZEGEL_SIGNERS_CONFIG_PATH: {path} is not valid JSON: {error}") from None
    return parse_signer_configs(data, source=str(path))


def open_backend(
    config: SignerConfig, *, secret: str | None = None, environ: Mapping[str, str] | None = None
) -> SigningBackend:
    """Open the signer's key. `secret` (the PIN or passphrase the signer typed) wins over the
    environment variable the configuration names; without either, SigningError."""
    env = os.environ if environ is None else environ
    variable = config.passphrase_env if isinstance(config, Pkcs12Signer) else config.pin_env
    value = secret if secret is not None else (env.get(variable) if variable else None)
    if value is None:
        word = "wachtwoord" if isinstance(config, Pkcs12Signer) else "pincode"
        raise SigningError(
            f"Geef uw {word} in om te ondertekenen; {NOTHING_SIGNED}", code="pin_required"
        )
    if isinstance(config, Pkcs12Signer):
        return open_pkcs12(config.path, value)
    chain = load_certificates(config.chain_path) if config.chain_path else []
    return open_pkcs11(
        config.module,
        token_label=config.token_label,
        key_label=config.key_label,
        cert_label=config.cert_label,
        pin=value,
        chain=chain,
    )
