"""An organisation's policy per document type at work: the paper method chosen at sending, and
the legal basis recorded with (or required for) a national-register look-up."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.errors import Forbidden
from shared.integrations.magda import testdata
from shared.jobs import Worker
from shared.models import (
    Channel,
    Dispatch,
    DocumentTypePolicy,
    EboxStatus,
    Organisation,
    PaperDelivery,
    RegisterConsultation,
)
from shared.services import audit, recipients
from shared.services import dispatch as dispatching
from tests import factories
from tests.integration.dispatch.conftest import LEGAL_BASIS, Magda, ready_document

AN = testdata.person_by_key("an-janssens")
PIETER = testdata.person_by_key("pieter-de-smet")
ACTOR = audit.Actor.system("test")
OWN_BASIS = "Beraadslaging IVC nr. 26/777 (GAS)"


def _policy(
    session: Session,
    org: Organisation,
    document_type: str,
    *,
    paper: PaperDelivery = PaperDelivery.NORMAL,
    legal_basis: str | None = None,
) -> None:
    session.add(
        DocumentTypePolicy(
            id=uuid.uuid4(),
            organisation_id=org.id,
            document_type=document_type,
            paper_delivery=paper,
            legal_basis=legal_basis,
        )
    )
    session.flush()


def test_the_paper_method_follows_the_organisations_policy(session: Session, magda: Magda) -> None:
    org = factories.organisation(session)
    other = factories.organisation(session, "Gemeente Buurdorp")
    _policy(session, org, "college_decision", paper=PaperDelivery.REGISTERED_WITH_ACKNOWLEDGEMENT)
    _policy(session, org, "gas_fine", paper=PaperDelivery.NORMAL)
    queued = {}
    for owner in (org, other):
        for document_type in ("college_decision", "gas_fine"):
            recipient = factories.citizen(
                session, owner, ssin=f"{uuid.uuid4().int % 10**11:011d}", name="Pieter De Smet"
            )
            recipient.street, recipient.postal_code, recipient.city = (
                "Kerkstraat 1",
                "9999",
                "Zegelbeek",
            )
            recipient.ebox_status = EboxStatus.NOT_ACTIVATED
            document = ready_document(session, owner, recipient, document_type=document_type)
            queued[(owner.name, document_type)] = dispatching.send_one(
                session, owner.id, document.id, actor=ACTOR
            )
    mine = queued[(org.name, "college_decision")]
    assert (mine.channel, mine.with_acknowledgement) == (Channel.REGISTERED, True)
    assert "met ontvangstbewijs: zo ingesteld door het bestuur" in mine.channel_reason
    assert queued[(org.name, "gas_fine")].channel is Channel.PAPER
    assert queued[("Gemeente Buurdorp", "college_decision")].channel is Channel.PAPER
    theirs = queued[("Gemeente Buurdorp", "gas_fine")]
    assert theirs.channel is Channel.REGISTERED
    assert "een GAS-boete wordt bij aangetekende brief betekend" in theirs.channel_reason

    session.commit()
    session.close()
    Worker("test-worker").run_pending()
    methods = {
        (m.data["deliveryMethod"], m.data.get("acknowledgementOfReceipt", False))
        for m in magda.sandbox.messages.values()
    }
    assert ("registered", True) in methods
    with factories_session() as check:
        assert (
            check.scalar(select(Dispatch.status).where(Dispatch.id == mine.id)).value == "submitted"
        )


def factories_session() -> Session:
    from shared.db import get_session_factory

    return get_session_factory()()


def test_a_look_up_about_a_type_records_the_types_own_legal_basis(
    session: Session, magda: Magda
) -> None:
    org = factories.organisation(session)
    _policy(session, org, "gas_fine", legal_basis=OWN_BASIS)
    requester = recipients.Requester(org.id, None, "Test")
    recipients.look_up_citizen(
        session, requester, AN.ssin, purpose="GAS-dossier", document_type="gas_fine"
    )
    recipients.look_up_citizen(
        session, requester, AN.ssin, purpose="Besluit", document_type="college_decision"
    )
    recipients.look_up_citizen(session, requester, AN.ssin, purpose="Zonder soort")
    bases = [
        (c.purpose, c.legal_basis)
        for c in session.scalars(
            select(RegisterConsultation).order_by(RegisterConsultation.occurred_at)
        )
    ]
    assert bases == [
        ("GAS-dossier", OWN_BASIS),
        ("GAS-dossier", OWN_BASIS),
        ("Besluit", LEGAL_BASIS),
        ("Besluit", LEGAL_BASIS),
        ("Zonder soort", LEGAL_BASIS),
        ("Zonder soort", LEGAL_BASIS),
    ]


def test_without_an_installation_basis_only_types_with_their_own_may_look_up(
    session: Session, magda: Magda, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZEGEL_MAGDA_LEGAL_BASIS", "")
    get_settings.cache_clear()
    org = factories.organisation(session)
    _policy(session, org, "gas_fine", legal_basis=OWN_BASIS)
    requester = recipients.Requester(org.id, None, "Test")
    with pytest.raises(Forbidden, match="geen rechtsgrond ingesteld"):
        recipients.look_up_citizen(
            session, requester, AN.ssin, purpose="Besluit", document_type="college_decision"
        )
    assert magda.sandbox.calls["persons"] == 0
    found = recipients.look_up_citizen(
        session, requester, PIETER.ssin, purpose="GAS-dossier", document_type="gas_fine"
    )
    assert found.problem is None
    assert {c.legal_basis for c in session.scalars(select(RegisterConsultation))} == {OWN_BASIS}
