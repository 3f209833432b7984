"""Signing a selection from the signing folder: confirmed once, signed in the background.

A signer ticks documents in the folder, confirms once, and Zegel signs them one by one in a
background job (`signing.batch`) while a progress page shows how far it is. Nothing is signed
twice:
- the batch id comes from the confirmation page, so posting that confirmation again (a double
  click, a reload, a second tab) finds the same batch and starts nothing new;
- the job is keyed by the batch id, so it is queued once;
- `signing.sign` checks every signature again under a row lock just before recording it, so a
  second batch or another signer touching the same document gets a refusal, not a second
  signature.

The key is opened in the worker with the passphrase or PIN from the environment variable the
signer configuration names (`shared/pdf/signers.py`): secrets never go into the database, and
so never into a job.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import jobs
from shared.db import session_scope, utcnow
from shared.errors import InvalidInput, NotFound
from shared.i18n import gettext as _
from shared.logging import get_logger
from shared.models.people import StaffRole, StaffUser
from shared.models.signing import (
    SignatureRequest,
    SignatureStatus,
    SigningBatch,
    SigningBatchStatus,
)
from shared.pdf.signing import SigningError
from shared.services import audit, signing, transitions
from shared.services.access import StaffContext

SIGN_BATCH_JOB = "signing.batch"
MAX_BATCH_SIZE = 1000
"""At most this many documents per confirmation."""

log = get_logger("zegel.signing")


def start_batch(
    session: Session,
    context: StaffContext,
    batch_id: uuid.UUID,
    request_ids: Sequence[uuid.UUID],
    *,
    actor: audit.Actor,
) -> SigningBatch:
    """Queue the signing of `request_ids` by the current signer, in the caller's transaction.
    Returns the existing batch when `batch_id` was confirmed before (nothing new starts)."""
    context.require(StaffRole.ONDERTEKENAAR)
    existing = session.get(SigningBatch, batch_id)
    if existing is not None:
        return _own(existing, context)
    ids = list(dict.fromkeys(request_ids))
    if not ids:
        raise InvalidInput(_("Kies minstens één stuk om te ondertekenen."))
    if len(ids) > MAX_BATCH_SIZE:
        raise InvalidInput(
            _("U kunt tot %(max)d stukken tegelijk ondertekenen; u koos er %(count)d.")
            % {"max": MAX_BATCH_SIZE, "count": len(ids)}
        )
    known = set(
        session.scalars(
            select(SignatureRequest.id).where(
                SignatureRequest.id.in_(ids),
                SignatureRequest.organisation_id == context.organisation_id,
            )
        ).all()
    )
    if known != set(ids):
        raise NotFound(_("Een of meer gekozen stukken bestaan niet (meer)."))
    batch = SigningBatch(
        id=batch_id,
        organisation_id=context.organisation_id,
        signer_id=context.user_id,
        request_ids=[str(i) for i in ids],
        status=SigningBatchStatus.QUEUED,
    )
    try:
        with session.begin_nested():
            session.add(batch)
    except IntegrityError:  # the same confirmation, posted at the same moment
        return _own(session.get(SigningBatch, batch_id), context)
    audit.record(
        session,
        actor=actor,
        organisation_id=context.organisation_id,
        action="signing_batch.queued",
        object_type="signing_batch",
        object_id=batch.id,
        data={"count": len(ids)},
    )
    jobs.enqueue(
        session,
        SIGN_BATCH_JOB,
        {"batch_id": str(batch.id)},
        key=f"{SIGN_BATCH_JOB}:{batch.id}",
        organisation_id=context.organisation_id,
        max_attempts=3,
    )
    return batch


def _own(batch: SigningBatch | None, context: StaffContext) -> SigningBatch:
    if (
        batch is None
        or batch.signer_id != context.user_id
        or batch.organisation_id != context.organisation_id
    ):
        raise NotFound(_("Deze reeks handtekeningen bestaat niet."))
    return batch


# -- progress ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchProgress:
    batch: SigningBatch
    total: int
    signed: int
    """Signed by this signer, so far (counted from the signatures themselves)."""
    refused: list[dict[str, Any]]
    """When finished: the documents that were not signed, each with its Dutch reason."""

    @property
    def finished(self) -> bool:
        return self.batch.status is SigningBatchStatus.FINISHED

    @property
    def percent(self) -> int:
        done = self.total if self.finished else self.signed
        return round(100 * done / self.total) if self.total else 100


def batch_progress(session: Session, context: StaffContext, batch_id: uuid.UUID) -> BatchProgress:
    batch = _own(session.get(SigningBatch, batch_id), context)
    ids = [uuid.UUID(i) for i in batch.request_ids]
    signed = session.scalar(
        select(func.count())
        .select_from(SignatureRequest)
        .where(
            SignatureRequest.id.in_(ids),
            SignatureRequest.status == SignatureStatus.SIGNED,
            SignatureRequest.signer_id == batch.signer_id,
        )
    )
    refused = [o for o in batch.outcomes or [] if not o["signed"]]
    return BatchProgress(batch, len(ids), int(signed or 0), refused)


# -- the job ----------------------------------------------------------------------------------


@jobs.handler(SIGN_BATCH_JOB)
def _sign_batch_job(payload: dict[str, object], context: jobs.JobContext) -> None:
    run_batch(uuid.UUID(str(payload["batch_id"])))


def run_batch(batch_id: uuid.UUID) -> None:
    """Sign a queued batch (what the job does). Safe to run again after a crash: what was
    signed stays signed and counts as such."""
    with session_scope() as session:
        batch = session.get(SigningBatch, batch_id)
        if batch is None or batch.status is SigningBatchStatus.FINISHED:
            return
        signer = session.get(StaffUser, batch.signer_id)
        assert signer is not None
        actor = audit.Actor.staff(signer.id, signer.name)
        if batch.status is SigningBatchStatus.QUEUED:
            transitions.transition(session, batch, SigningBatchStatus.RUNNING, actor=actor)
        ids = [uuid.UUID(i) for i in batch.request_ids]
        signer_id = signer.id
        try:
            backend = signing.open_signer(session, signer_id)
        except SigningError as error:  # no key configured, a wrong PIN, a token not present
            backend = None
            failure = error
            audit.record(
                session,
                actor=actor,
                organisation_id=batch.organisation_id,
                action="signing.key_not_opened",
                object_type="signing_batch",
                object_id=batch.id,
                data={"code": error.code},
            )
    if backend is None:
        outcomes = [signing.SignOutcome(i, None, False, failure.code, failure.message) for i in ids]
    else:
        try:
            outcomes = signing.sign(ids, signer_user_id=signer_id, backend=backend, actor=actor)
        finally:
            backend.close()
    _finish(batch_id, signer_id, outcomes, actor)


def _finish(
    batch_id: uuid.UUID,
    signer_id: uuid.UUID,
    outcomes: Sequence[signing.SignOutcome],
    actor: audit.Actor,
) -> None:
    with session_scope() as session:
        batch = session.get(SigningBatch, batch_id)
        assert batch is not None
        mine = set(
            session.scalars(
                select(SignatureRequest.id).where(
                    SignatureRequest.id.in_([o.signature_request_id for o in outcomes]),
                    SignatureRequest.status == SignatureStatus.SIGNED,
                    SignatureRequest.signer_id == signer_id,
                )
            ).all()
        )
        batch.outcomes = [
            {
                "request_id": str(o.signature_request_id),
                "document_id": str(o.document_id) if o.document_id else None,
                # Signed by this signer, now or in an earlier run of this batch.
                "signed": o.signed or o.signature_request_id in mine,
                "code": o.code,
                "message": o.message,
            }
            for o in outcomes
        ]
        batch.finished_at = utcnow()
        signed = sum(1 for o in batch.outcomes if o["signed"])
        transitions.transition(
            session,
            batch,
            SigningBatchStatus.FINISHED,
            actor=actor,
            data={"signed": signed, "refused": len(outcomes) - signed},
        )
    log.info("signing batch finished", extra={"batch_id": str(batch_id), "signed": signed})
