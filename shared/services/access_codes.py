"""The short access code on a paper letter: enough to see a summary and pay, not the decision.

A code is 12 characters from Crockford's base32 alphabet (no I, L, O or U: nothing to confuse),
random (60 bits), printed as XXXX-XXXX-XXXX. Typing it wrong is forgiven: case, spaces and
dashes do not matter, and O/I/L read as 0/1/1.

Guessing is stopped per client: after `MAX_FAILURES` wrong codes within `WINDOW` the client is
locked out for `LOCKOUT`, during which even a right code is refused. The client is kept as a
keyed digest of its address, never the address itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.errors import DomainError, NotFound, TooManyAttempts
from shared.i18n import gettext as _
from shared.logging import get_logger
from shared.models.documents import Document
from shared.models.payments import PaymentRequest
from shared.models.sessions import AccessCodeAttempt
from shared.services.access import VISIBLE_TO_CITIZENS

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)

log = get_logger("zegel.security")


def generate() -> str:
    """A new random access code, normalised (12 characters, no dashes)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(code: str) -> str:
    """XXXX-XXXX-XXXX, as printed on the letter."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise(typed: str) -> str | None:
    """The code as stored, or None when it cannot be one."""
    cleaned = typed.upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    if len(cleaned) != LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def client_digest(client_address: str) -> str:
    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(
        key, b"access-code-client:" + client_address.encode(), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class CodeSummary:
    """What the code shows: the document (with its organisation) and its payment request."""

    document: Document
    payment: PaymentRequest | None


def open_with_code(client_address: str, typed: str, *, now: datetime | None = None) -> CodeSummary:
    """What the code opens. Raises
    TooManyAttempts while the client is locked out, NotFound (the same for every wrong code)
    otherwise.

    Runs in its own transaction, so a wrong try is counted even though the request that
    carried it fails: call it without a database session of the request."""
    now = now or utcnow()
    failure: DomainError | None = None
    with session_scope() as session:
        attempt = _attempt(session, client_digest(client_address), now)
        if attempt.locked_until is not None and attempt.locked_until > now:
            raise TooManyAttempts(_locked_message())
        code = normalise(typed)
        document = None
        if code is not None:
            document = session.scalars(
                select(Document)
                .options(joinedload(Document.organisation))
                .where(Document.access_code == code, Document.status.in_(VISIBLE_TO_CITIZENS))
            ).one_or_none()
        if document is None:
            if now - attempt.window_started_at > WINDOW:
                attempt.window_started_at, attempt.failures = now, 0
            attempt.failures += 1
            if attempt.failures >= MAX_FAILURES:
                attempt.locked_until = now + LOCKOUT
                log.warning(
                    "access code guessing: client locked out",
                    extra={"client": attempt.client_digest[:12]},
                )
                failure = TooManyAttempts(_locked_message())
            else:
                failure = NotFound(
                    _(
                        "Deze code kennen we niet. Controleer de code op uw brief en probeer"
                        " opnieuw."
                    )
                )
        payment = None
        if document is not None:
            payment = session.scalars(
                select(PaymentRequest).where(PaymentRequest.document_id == document.id)
            ).one_or_none()
    if failure is not None:  # raised after the commit: the failed try stays counted
        raise failure
    assert document is not None
    return CodeSummary(document, payment)


def _locked_message() -> str:
    return _(
        "U hebt te vaak een verkeerde code ingegeven. Probeer het over %(minutes)d minuten"
        " opnieuw, of meld u aan met eID of itsme."
    ) % {"minutes": int(LOCKOUT.total_seconds() // 60)}


def _attempt(session: Session, digest: str, now: datetime) -> AccessCodeAttempt:
    found = session.scalars(
        select(AccessCodeAttempt).where(AccessCodeAttempt.client_digest == digest)
    ).one_or_none()
    if found is not None:
        return found
    attempt = AccessCodeAttempt(client_digest=digest, window_started_at=now, failures=0)
    try:
        with session.begin_nested():
            session.add(attempt)
    except IntegrityError:  # the same client, at the same moment
        return session.scalars(
            select(AccessCodeAttempt).where(AccessCodeAttempt.client_digest == digest)
        ).one()
    return attempt
