from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.errors import IllegalTransition
from shared.models import AuditEvent, Document, DocumentStatus
from shared.services.transitions import transition
from tests import factories

ACTOR = factories.SYSTEM


def test_a_legal_transition_changes_status_and_appends_an_audit_event(session: Session) -> None:
    org = factories.organisation(session)
    doc = factories.document(session, org, factories.citizen(session, org))
    transition(session, doc, DocumentStatus.SCREENED, actor=ACTOR)
    session.commit()

    session.expire_all()
    assert session.get(Document, doc.id).status is DocumentStatus.SCREENED  # type: ignore[union-attr]
    event = session.scalars(select(AuditEvent).where(AuditEvent.object_id == str(doc.id))).one()
    assert (event.status_before, event.status_after) == ("draft", "screened")
    assert event.action == "document.screened"
    assert event.organisation_id == org.id
    assert event.actor_label == "test"


def test_an_illegal_transition_raises_and_changes_nothing(session: Session) -> None:
    org = factories.organisation(session)
    doc = factories.document(session, org, factories.citizen(session, org))
    session.commit()
    events_before = session.scalar(select(func.count()).select_from(AuditEvent))

    with pytest.raises(IllegalTransition, match="kan niet naar ‘verzonden’"):
        transition(session, doc, DocumentStatus.DISPATCHED, actor=ACTOR)
    session.commit()

    session.expire_all()
    assert session.get(Document, doc.id).status is DocumentStatus.DRAFT  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events_before
