"""The short access code on a paper letter: enough to see a summary and pay, not the decision.

A code is 12 characters from Crockford's base32 alphabet (no I, L, O or U: nothing to confuse),
random (60 bits), printed as XXXX-XXXX-XXXX. Typing it wrong is forgiven: case, spaces and
dashes do not matter, and O/I/L read as 0/1/1.

Guessing is stopped per client: after `MAX_FAILURES` wrong codes within `WINDOW` the client is
locked out for `LOCKOUT`, during which even a right code is refused. The client is kept as a
keyed digest of its address, never the address itself. The same mechanism, with its own count
(`TOKEN_SCOPE`), stops guessing the tokens of portal links (/d/<token>): `token_failed`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

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
from shared.services.access import NOT_YOURS, open_to_citizens

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
CODE_SCOPE = "access-code-client"
TOKEN_SCOPE = "portal-token-client"  # noqa: S105 - a label, not a secret
"""Wrong access codes and wrong link tokens are counted apart, each per client."""

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


def client_digest(client_address: str, scope: str = CODE_SCOPE) -> str:
    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(key, f"{scope}:{client_address}".encode(), hashlib.sha256).hexdigest()


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
            raise TooManyAttempts(locked_message())
        code = normalise(typed)
        document = None
        if code is not None:
            document = session.scalars(
                select(Document)
                .options(joinedload(Document.organisation))
                .where(Document.access_code == code, *open_to_citizens(now))
            ).one_or_none()
        if document is None:
            failure = _count_failure(
                attempt,
                now,
                NotFound(
                    _(
                        "Deze code kennen we niet. Controleer de code op uw brief en probeer"
                        " opnieuw."
                    )
                ),
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


def token_failed(client_address: str, *, now: datetime | None = None) -> NoReturn:
    """Count a portal link whose token opened nothing for this client, in a transaction of its
    own (the request that carried it fails). Always raises: NotFound, the same answer as for
    any unknown document, or TooManyAttempts once the client is locked out."""
    now = now or utcnow()
    with session_scope() as session:
        attempt = _attempt(session, client_digest(client_address, TOKEN_SCOPE), now)
        if attempt.locked_until is not None and attempt.locked_until > now:
            failure: DomainError = TooManyAttempts(locked_message(TOKEN_SCOPE))
        else:
            failure = _count_failure(attempt, now, NotFound(NOT_YOURS), TOKEN_SCOPE)
    raise failure  # after the commit: the failed try stays counted


def _count_failure(
    attempt: AccessCodeAttempt, now: datetime, not_found: NotFound, scope: str = CODE_SCOPE
) -> DomainError:
    """Count one wrong try; the error to answer it with (TooManyAttempts at the limit)."""
    if now - attempt.window_started_at > WINDOW:
        attempt.window_started_at, attempt.failures = now, 0
    attempt.failures += 1
    if attempt.failures >= MAX_FAILURES:
        attempt.locked_until = now + LOCKOUT
        log.warning(
            "guessing: client locked out",
            extra={"client": attempt.client_digest[:12], "scope": scope},
        )
        return TooManyAttempts(locked_message(scope))
    return not_found


def locked_message(scope: str = CODE_SCOPE) -> str:
    minutes = int(LOCKOUT.total_seconds() // 60)
    if scope == TOKEN_SCOPE:
        return _(
            "U opende te vaak een link naar een document dat we niet kennen. Probeer het over"
            " %(minutes)d minuten opnieuw."
        ) % {"minutes": minutes}
    return _(
        "U hebt te vaak een verkeerde code ingegeven. Probeer het over %(minutes)d minuten"
        " opnieuw, of meld u aan met eID of itsme."
    ) % {"minutes": minutes}


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
