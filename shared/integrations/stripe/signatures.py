"""Stripe's webhook signature scheme.

`Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]` where each v1 is
HMAC-SHA256(endpoint secret, "<t>.<raw body>"). A receiver recomputes it over the raw body
(not a re-serialised JSON), accepts any v1 made with any of its current secrets (rotation), and
refuses a timestamp further than the tolerance from now (replay of an old delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """The signature header is missing, malformed, stale, or made with no known secret."""


def compute(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes, secrets: Sequence[str], timestamp: int | None = None) -> str:
    """The header value for `payload`: one v1 per secret (Stripe sends one per active secret
    while an endpoint's secret is being rolled)."""
    at = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={at}", *(f"v1={compute(payload, s, at)}" for s in secrets)])


def verify(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check the header against the raw `payload`; return its timestamp. Raises
    SignatureError (with a reason for the log, never shown to the sender)."""
    if not header:
        raise SignatureError("no Stripe-Signature header")
    if not secrets:
        raise SignatureError("no webhook secret configured")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _eq, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("malformed timestamp") from None
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("no timestamp or no v1 signature")
    current = time.time() if now is None else now
    if tolerance > 0 and abs(current - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    for secret in secrets:
        expected = compute(payload, secret, timestamp)
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return timestamp
    raise SignatureError("no signature matches")
