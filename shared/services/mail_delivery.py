"""Sending one e-mail from a job and recording it, the same way for every kind of mail.

The message goes over SMTP (`shared.integrations.mail.client`). Accepted: `mail.sent` on the
object it is about, in the audit trail, with the message id. Refused for good (5xx): logged,
`mail.failed` recorded, and not retried. A temporary failure propagates, so the job backs off
and tries again (with the same Message-ID reference: the job's idempotency key).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from shared.db import session_scope
from shared.integrations.mail.client import MailDeliveryError, SentMail, SmtpClient
from shared.logging import get_logger
from shared.services import audit

log = get_logger("zegel.mail")

MAIL_ACTOR = audit.Actor.system("e-mail")


def send_and_record(
    message: EmailMessage,
    *,
    organisation_id: uuid.UUID,
    object_type: str,
    object_id: uuid.UUID,
    data: Mapping[str, Any],
    after_sent: Callable[[Session], None] | None = None,
) -> SentMail | None:
    """Send `message` and record the outcome on (object_type, object_id) with `data` (the
    kind, job and attempt: also logged). Returns what the server accepted, or None when it
    refused the mail for good. `after_sent` runs in the transaction that records the sending
    (to mark what the mail told about as told)."""
    fields = dict(data)
    try:
        sent = SmtpClient().send(message)
    except MailDeliveryError as error:
        if not error.permanent:
            log.warning("mail not sent yet: will try again", error=str(error), **fields)
            raise
        log.error("mail refused for good", error=str(error), **fields)
        with session_scope() as session:
            audit.record(
                session,
                actor=MAIL_ACTOR,
                organisation_id=organisation_id,
                action="mail.failed",
                object_type=object_type,
                object_id=object_id,
                data={**fields, "smtp_code": error.smtp_code},
            )
        return None
    with session_scope() as session:
        audit.record(
            session,
            actor=MAIL_ACTOR,
            organisation_id=organisation_id,
            action="mail.sent",
            object_type=object_type,
            object_id=object_id,
            data={**fields, "message_id": sent.message_id},
        )
        if after_sent is not None:
            after_sent(session)
    log.info("mail sent", message_id=sent.message_id, refused=len(sent.refused), **fields)
    return sent
