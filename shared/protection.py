"""Protection of national register numbers (INSZ) at rest and in logs.

- `ssin_digest`: a keyed HMAC, stable per number, to find a recipient without storing it;
- `seal` / `unseal`: authenticated encryption (AES-256-GCM) for when the number itself is
  needed again (a MAGDA call);
- `mask_ssin`: what a page may show (85.07.30-***.**).
Keys are derived from ZEGEL_PROTECTION_KEY with HKDF, one per purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from stdnum.be import bis, nn
from stdnum.exceptions import ValidationError

from shared.config import get_settings
from shared.errors import InvalidInput


def _derive(purpose: bytes) -> bytes:
    secret = get_settings().protection_key.get_secret_value().encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"zegel", info=purpose).derive(secret)


def normalise_ssin(value: str) -> str:
    """The 11 digits of a valid national register or BIS number; InvalidInput otherwise."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) != 11:
        raise InvalidInput("Een rijksregisternummer heeft 11 cijfers.")
    try:
        return str(nn.validate(digits))
    except ValidationError:
        pass
    try:
        return str(bis.validate(digits))
    except ValidationError:
        raise InvalidInput(
            "Dit rijksregisternummer klopt niet: het controlegetal is fout."
        ) from None


def ssin_digest(ssin: str) -> str:
    return hmac.new(_derive(b"ssin-digest"), ssin.encode(), hashlib.sha256).hexdigest()


def seal(value: str) -> str:
    nonce = os.urandom(12)
    ciphertext = AESGCM(_derive(b"ssin-seal")).encrypt(nonce, value.encode(), b"zegel-ssin")
    return base64.urlsafe_b64encode(nonce + ciphertext).decode()


def unseal(token: str) -> str:
    raw = base64.urlsafe_b64decode(token.encode())
    return AESGCM(_derive(b"ssin-seal")).decrypt(raw[:12], raw[12:], b"zegel-ssin").decode()


def mask_ssin(ssin: str) -> str:
    """Show the birth date part only: 85.07.30-***.**."""
    return f"{ssin[0:2]}.{ssin[2:4]}.{ssin[4:6]}-***.**"
