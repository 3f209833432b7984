"""Registering decisions and letters in the service layer: what is stored, what is refused
(with every problem at once, changing nothing), duplicates and replays by external id."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.errors import FieldErrors
from shared.models import (
    AuditEvent,
    Decision,
    DisputeRight,
    Document,
    DocumentStatus,
    GoverningBody,
    Organisation,
    Recipient,
    RecipientKind,
)
from shared.protection import ssin_digest, unseal
from shared.services import audit, review
from shared.services.intake import replace_pdf, stored_findings
from shared.services.registration import (
    DecisionInput,
    DuplicateDecision,
    ExternalIdConflict,
    LetterInput,
    RecipientInput,
    register_decision,
    register_letter,
)
from shared.services.screening import screen_document
from shared.storage import get_storage
from shared.timeutil import today
from tests import factories, intake_pdfs

ACTOR = audit.Actor.system("test")
ANN = "85073003328"


class Org:
    def __init__(self, organisation: Organisation) -> None:
        self.organisation_id = organisation.id


def _decision(**changes: object) -> DecisionInput:
    base = DecisionInput(
        body=GoverningBody.COLLEGE,
        session_date=today() - timedelta(days=3),
        decision_number="2026_CBS_00123",
        title="Omgevingsvergunning voor een carport",
        legal_basis="Decreet van 25 april 2014",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _citizen_letter(content: bytes | None = None, **changes: object) -> LetterInput:
    base = LetterInput(
        file_name="brief-ann.pdf",
        content=intake_pdfs.letter() if content is None else content,
        recipient=RecipientInput(
            kind=RecipientKind.CITIZEN,
            name="Ann Peeters",
            national_register_number="85.07.30-033.28",
            street="Kerkstraat 1",
            postal_code="9999",
            city="Testdorp",
        ),
        amount_due_cents=12500,
        due_date=today() + timedelta(days=30),
        dispute_right=DisputeRight.MUNICIPAL_TAX_OBJECTION,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _enterprise_letter(**changes: object) -> LetterInput:
    base = LetterInput(
        file_name="brief-bouw.pdf",
        content=intake_pdfs.letter(recipient="Bouwbedrijf NV"),
        recipient=RecipientInput(
            kind=RecipientKind.ENTERPRISE, name="Bouwbedrijf NV", enterprise_number="0403.170.701"
        ),
        title="Kopie van de vergunning",
        dispute_right=DisputeRight.CUSTOM,
        dispute_legal_text="U kunt beroep aantekenen bij de deputatie binnen 30 dagen.",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _count(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[arg-type]


def test_a_decision_with_two_letters_becomes_two_drafts(session: Session) -> None:
    org = factories.organisation(session)
    result = register_decision(
        session, Org(org), _decision(), [_citizen_letter(), _enterprise_letter()], ACTOR
    )
    session.commit()
    assert result.decision is not None
    assert not result.replayed
    first, second = result.documents
    assert first.status is DocumentStatus.DRAFT
    assert first.document_type == "college_decision"
    assert first.title == "Omgevingsvergunning voor een carport"  # the decision's title
    assert first.amount_due_cents == 12500
    assert first.dispute_right is DisputeRight.MUNICIPAL_TAX_OBJECTION
    assert first.dispute_legal_text is None
    assert second.title == "Kopie van de vergunning"
    assert second.dispute_legal_text.startswith("U kunt beroep")  # type: ignore[union-attr]
    assert stored_findings(first) == []
    assert first.intake_check is not None
    assert get_storage().get(first.current_sha256) == intake_pdfs.letter()

    citizen = session.get(Recipient, first.recipient_id)
    assert citizen is not None
    assert citizen.ssin_digest == ssin_digest(ANN)
    assert citizen.ssin_sealed is not None
    assert unseal(citizen.ssin_sealed) == ANN
    enterprise = session.get(Recipient, second.recipient_id)
    assert enterprise is not None
    assert enterprise.enterprise_number == "0403170701"

    actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[-6:] == [
        "recipient.created",
        "document.registered",
        "payment_request.created",  # the first letter has an amount due
        "recipient.created",
        "document.registered",
        "decision.registered",
    ]
    trail = json.dumps([e.data for e in session.scalars(select(AuditEvent))])
    assert ANN not in trail
    assert "85.07.30" not in trail


def test_a_known_citizen_is_found_again_not_duplicated(session: Session) -> None:
    org = factories.organisation(session)
    known = factories.citizen(session, org, ANN, "Ann Oud")
    register_decision(session, Org(org), _decision(), [_citizen_letter()], ACTOR)
    assert _count(session, Recipient) == 1
    session.refresh(known)
    assert known.name == "Ann Peeters"
    assert "recipient.updated" in session.scalars(select(AuditEvent.action)).all()


def test_layout_findings_keep_a_draft_with_findings_and_previews(session: Session) -> None:
    org = factories.organisation(session)
    result = register_decision(
        session,
        Org(org),
        _decision(),
        [_citizen_letter(intake_pdfs.with_ink_in_window())],
        ACTOR,
    )
    document = result.documents[0]
    assert {f.code for f in stored_findings(document)} == {"ink_in_address_window"}
    view = review.intake_view(document)
    assert view.preview_pages == [1]
    assert not view.can_screen
    png = get_storage().get(document.intake_check["previews"]["1"])  # type: ignore[index]
    assert png.startswith(b"\x89PNG")
    with pytest.raises(Exception, match="voldoet niet"):
        screen_document(session, document, actor=ACTOR)

    replace_pdf(session, document, intake_pdfs.letter(), file_name="goed.pdf", actor=ACTOR)
    assert stored_findings(document) == []
    screen_document(session, document, actor=ACTOR)
    assert document.status is DocumentStatus.AWAITING_SIGNATURE


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (intake_pdfs.NOT_A_PDF, "geen PDF-document"),
        (intake_pdfs.corrupt(), "beschadigd"),
        (intake_pdfs.encrypted(), "versleuteld"),
    ],
)
def test_an_unusable_pdf_refuses_everything(session: Session, content: bytes, message: str) -> None:
    org = factories.organisation(session)
    with pytest.raises(FieldErrors) as caught:
        register_decision(
            session, Org(org), _decision(), [_enterprise_letter(), _citizen_letter(content)], ACTOR
        )
    assert list(caught.value.errors) == ["documents.1.file"]
    assert message in caught.value.errors["documents.1.file"]
    session.rollback()
    assert _count(session, Decision) == _count(session, Document) == 0


def test_an_oversized_pdf_is_refused_with_the_limit(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = factories.organisation(session)
    monkeypatch.setenv("ZEGEL_PDF_MAX_BYTES", "2048")
    get_settings.cache_clear()
    try:
        with pytest.raises(FieldErrors) as caught:
            register_decision(session, Org(org), _decision(), [_citizen_letter()], ACTOR)
    finally:
        monkeypatch.delenv("ZEGEL_PDF_MAX_BYTES")
        get_settings.cache_clear()
    assert "de grens is 2 kB" in caught.value.errors["documents.0.file"]


def test_every_problem_is_reported_at_once(session: Session) -> None:
    org = factories.organisation(session)
    citizen = _citizen_letter()
    bad_citizen = replace(
        citizen,
        recipient=replace(citizen.recipient, national_register_number="85.07.30-033.29"),
        due_date=today() - timedelta(days=1),
    )
    bad_enterprise = _enterprise_letter(
        recipient=RecipientInput(
            kind=RecipientKind.ENTERPRISE, name="X", enterprise_number="0403.170.702"
        ),
        dispute_legal_text="",
    )
    with pytest.raises(FieldErrors) as caught:
        register_decision(
            session,
            Org(org),
            _decision(title="", session_date=today() + timedelta(days=1)),
            [bad_citizen, bad_enterprise],
            ACTOR,
        )
    assert caught.value.errors == {
        "session_date": "De zitting kan niet in de toekomst liggen.",
        "title": "Geef de titel van de beslissing.",
        "documents.0.recipient.national_register_number": (
            "Dit rijksregisternummer klopt niet: het controlegetal of de geboortedatum is fout."
        ),
        "documents.0.due_date": "De vervaldag ligt in het verleden.",
        "documents.1.recipient.enterprise_number": (
            "Dit ondernemingsnummer klopt niet: het controlegetal is fout."
        ),
        "documents.1.dispute_legal_text": (
            "Geef de tekst over het rechtsmiddel die in de brief moet staan."
        ),
    }


def test_a_duplicate_decision_is_refused_and_changes_nothing(session: Session) -> None:
    org = factories.organisation(session)
    first = register_decision(session, Org(org), _decision(), [_citizen_letter()], ACTOR)
    session.commit()
    events = _count(session, AuditEvent)
    with pytest.raises(DuplicateDecision, match=r"2026_CBS_00123 .* is al geregistreerd") as caught:
        register_decision(session, Org(org), _decision(), [_enterprise_letter()], ACTOR)
    assert first.decision is not None
    assert caught.value.existing_id == first.decision.id
    session.rollback()
    assert (_count(session, Decision), _count(session, Document)) == (1, 1)
    assert _count(session, AuditEvent) == events
    # another organisation may have the same number
    other = factories.organisation(session, "Gemeente B")
    register_decision(session, Org(other), _decision(), [_citizen_letter()], ACTOR)


def test_the_same_external_id_replays_or_conflicts(session: Session) -> None:
    org = factories.organisation(session)
    decision = _decision(external_id="gn-42")
    first = register_decision(session, Org(org), decision, [_citizen_letter()], ACTOR)
    session.commit()
    again = register_decision(session, Org(org), decision, [_citizen_letter()], ACTOR)
    assert again.replayed
    assert again.decision is not None
    assert first.decision is not None
    assert again.decision.id == first.decision.id
    assert [d.id for d in again.documents] == [d.id for d in first.documents]
    with pytest.raises(ExternalIdConflict, match="gn-42"):
        register_decision(
            session,
            Org(org),
            decision,
            [_citizen_letter(intake_pdfs.letter("Ander besluit"))],
            ACTOR,
        )
    assert (_count(session, Decision), _count(session, Document)) == (1, 1)


def test_a_letter_on_its_own_needs_an_address_when_only_a_name_is_known(
    session: Session,
) -> None:
    org = factories.organisation(session)
    letter = LetterInput(
        file_name="herinnering.pdf",
        content=intake_pdfs.letter("Herinnering"),
        recipient=RecipientInput(kind=RecipientKind.POSTAL, name="Mevrouw Janssens"),
        title="",
    )
    with pytest.raises(FieldErrors) as caught:
        register_letter(session, Org(org), letter, ACTOR)
    assert set(caught.value.errors) == {
        "title",
        "recipient.street",
        "recipient.postal_code",
        "recipient.city",
    }
    fixed = replace(
        letter,
        title="Herinnering",
        document_type="reminder",
        recipient=replace(letter.recipient, street="Dorp 2", postal_code="9999", city="Testdorp"),
    )
    result = register_letter(session, Org(org), fixed, ACTOR)
    assert result.decision is None
    assert result.documents[0].document_type == "reminder"
