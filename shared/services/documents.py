"""Reading outgoing documents in the back office: lists, one document, its timeline."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, joinedload

from shared.db import utcnow
from shared.errors import IllegalTransition, InvalidInput, NotFound
from shared.i18n import gettext
from shared.models.dispatch import Dispatch, DispatchStatus
from shared.models.documents import Document, DocumentStatus
from shared.models.people import StaffRole, StaffRoleAssignment
from shared.models.signing import SignatureRequest, SignatureStatus
from shared.services import audit, dispatch
from shared.services.access import StaffContext, document_for_staff
from shared.services.timeline import TimelineEntry, document_timeline


def list_documents(
    session: Session, context: StaffContext, *, status: DocumentStatus | None = None
) -> list[Document]:
    context.require(StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR)
    query = (
        select(Document)
        .options(joinedload(Document.recipient))
        .where(Document.organisation_id == context.organisation_id)
        .order_by(Document.created_at.desc())
        .limit(500)
    )
    if status is not None:
        query = query.where(Document.status == status)
    return list(session.scalars(query).all())


def count_by_status(session: Session, context: StaffContext) -> dict[DocumentStatus, int]:
    rows = session.execute(
        select(Document.status, func.count())
        .where(Document.organisation_id == context.organisation_id)
        .group_by(Document.status)
    ).all()
    return {DocumentStatus(status): count for status, count in rows}


@dataclass(frozen=True)
class DocumentView:
    document: Document
    signatures: list[SignatureRequest]
    timeline: list[TimelineEntry]
    deliveries: list[dispatch.TimelineEntry]
    """Every dispatch of the document and its delivery events, oldest first."""
    failure: str | None
    """Why the last dispatch failed, when it did."""
    channel_reason: str | None
    """Why the last dispatch took its channel."""

    @property
    def sendable(self) -> bool:
        return self.document.status in dispatch.SENDABLE


def document_view(session: Session, context: StaffContext, document_id: uuid.UUID) -> DocumentView:
    context.require(StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR, StaffRole.ONDERTEKENAAR)
    document = document_for_staff(session, context, document_id)
    signatures = list(
        session.scalars(
            select(SignatureRequest)
            .options(joinedload(SignatureRequest.signer))
            .where(SignatureRequest.document_id == document.id)
            .order_by(SignatureRequest.position)
        ).all()
    )
    timeline = document_timeline(session, context.organisation_id, document.id)
    last = session.scalars(
        select(Dispatch)
        .where(Dispatch.document_id == document.id)
        .order_by(Dispatch.attempt.desc())
        .limit(1)
    ).first()
    return DocumentView(
        document,
        signatures,
        timeline,
        dispatch.timeline(session, context.organisation_id, document.id),
        last.failure_reason if last is not None and last.status is DispatchStatus.FAILED else None,
        last.channel_reason if last is not None else None,
    )


def my_signature_request(
    session: Session, context: StaffContext, request_id: uuid.UUID
) -> SignatureRequest:
    """A signature request of this organisation for one of the signer's functions."""
    context.require(StaffRole.ONDERTEKENAAR)
    found = session.scalars(
        select(SignatureRequest)
        .options(joinedload(SignatureRequest.document).joinedload(Document.recipient))
        .join(
            StaffRoleAssignment,
            and_(
                StaffRoleAssignment.organisation_id == SignatureRequest.organisation_id,
                StaffRoleAssignment.signer_function == SignatureRequest.signer_function,
                StaffRoleAssignment.staff_user_id == context.user_id,
                StaffRoleAssignment.role == StaffRole.ONDERTEKENAAR,
            ),
        )
        .where(
            SignatureRequest.id == request_id,
            SignatureRequest.organisation_id == context.organisation_id,
        )
        .limit(1)
    ).first()
    if found is None:
        raise NotFound(gettext("Deze handtekening bestaat niet."))
    return found


def awaiting_my_signature(session: Session, context: StaffContext) -> list[SignatureRequest]:
    """Signature requests whose turn it is, for the functions this signer holds here."""
    context.require(StaffRole.ONDERTEKENAAR)
    functions = set(
        session.scalars(
            select(StaffRoleAssignment.signer_function).where(
                StaffRoleAssignment.staff_user_id == context.user_id,
                StaffRoleAssignment.organisation_id == context.organisation_id,
                StaffRoleAssignment.role == StaffRole.ONDERTEKENAAR,
            )
        ).all()
    ) - {None}
    if not functions:
        return []
    earlier = SignatureRequest.__table__.alias("earlier")
    not_my_turn_yet = (
        select(earlier.c.id)
        .where(
            and_(
                earlier.c.document_id == SignatureRequest.document_id,
                earlier.c.signing_round == SignatureRequest.signing_round,
                earlier.c.position < SignatureRequest.position,
                earlier.c.status != SignatureStatus.SIGNED.value,
            )
        )
        .exists()
    )
    return list(
        session.scalars(
            select(SignatureRequest)
            .join(Document, Document.id == SignatureRequest.document_id)
            .options(
                joinedload(SignatureRequest.document).joinedload(Document.recipient),
                joinedload(SignatureRequest.document).joinedload(Document.decision),
            )
            .where(
                SignatureRequest.organisation_id == context.organisation_id,
                SignatureRequest.status == SignatureStatus.PENDING,
                SignatureRequest.signer_function.in_(functions),
                Document.status == DocumentStatus.AWAITING_SIGNATURE,
                ~not_my_turn_yet,
            )
            .order_by(Document.created_at)
        ).all()
    )


WITHDRAWABLE = (DocumentStatus.DISPATCHED, DocumentStatus.DELIVERED, DocumentStatus.RETURNED)


def withdraw(
    session: Session, context: StaffContext, document_id: uuid.UUID, reason: str
) -> Document:
    """Withdraw a sent document (sent in error, to the wrong person, replaced): from now on
    its portal link, its paper access code and its page no longer open for the citizen, who
    sees the same page as for an unknown link. The letter itself is not recalled."""
    context.require(StaffRole.SECRETARIAAT, StaffRole.BEHEERDER)
    document = document_for_staff(session, context, document_id)
    reason = reason.strip()
    if not reason:
        raise InvalidInput(gettext("Geef een reden op waarom u het document intrekt."))
    if document.withdrawn_at is not None:
        raise IllegalTransition(gettext("Dit document is al ingetrokken."))
    if document.status not in WITHDRAWABLE:
        raise IllegalTransition(
            gettext(
                "Alleen een verstuurd document kan worden ingetrokken; dit is nog niet verstuurd."
            )
        )
    document.withdrawn_at = utcnow()
    audit.record(
        session,
        actor=context.actor,
        organisation_id=document.organisation_id,
        action="document.withdrawn",
        object_type="document",
        object_id=document.id,
        data={"reason": reason},
    )
    session.flush()
    return document
