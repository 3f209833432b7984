"""The development key pair of Zegel's MAGDA client (never used in production).

Zegel signs its client assertion with it and the sandbox trusts its public half, so the demo
and the tests exercise the real token flow without any configuration. Production refuses it
(`ZEGEL_MAGDA_PRIVATE_KEY_PATH` must be set to a key outside the development PKI).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, RSAKey

DEV_KEY_FILE = "magda-client.jwk"


def generate_key() -> dict[str, Any]:
    key = ECKey.generate_key("P-256", private=True)
    key.ensure_kid()
    return key.as_dict(private=True)


def ensure_dev_client_key(folder: Path) -> Path:
    """The development key file under `folder`, created (atomically) when missing."""
    path = folder / DEV_KEY_FILE
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    with os.fdopen(fd, "w") as handle:
        json.dump(generate_key(), handle)
    try:
        os.link(tmp, path)  # first writer wins; a concurrent one keeps the same key
    except FileExistsError:
        pass
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def public_jwks(material: dict[str, Any] | str) -> dict[str, Any]:
    """The public half of a private key (JWK dict or PEM text) as a JWKS."""
    if isinstance(material, dict):
        key: ECKey | RSAKey = (
            ECKey.import_key(material)
            if material.get("kty") == "EC"
            else RSAKey.import_key(material)
        )
    else:
        try:
            key = RSAKey.import_key(material)
        except Exception:
            key = ECKey.import_key(material)
    key.ensure_kid()
    return {"keys": [key.as_dict(private=False)]}
