"""Disputes in the back office, through HTTP and the database: the queue and its filters,
isolation between organisations, assignment, status changes (and illegal ones), notes, the
decision with its answer document, closing the dispute when the answer is sent with the
payment request following the outcome, the report; and the front office's document search."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.app import create_app
from shared.db import session_scope
from shared.i18n import format_datetime, format_money
from shared.integrations.magda import testdata
from shared.jobs import Worker
from shared.models import (
    AuditEvent,
    Channel,
    Dispatch,
    DispatchStatus,
    Dispute,
    DisputeChannel,
    DisputeNote,
    DisputeRight,
    DisputeStatus,
    Document,
    DocumentStatus,
    EboxStatus,
    Organisation,
    PaymentRequest,
    PaymentRequestStatus,
    Recipient,
    StaffRole,
    StaffUser,
)
from shared.protection import seal, ssin_digest
from shared.services import audit, dispatch, dispute_office, disputes, timeline
from shared.services.screening import ScreeningOverride, screen_document
from shared.services.transitions import transition
from shared.timeutil import BRUSSELS, today, utcnow
from shared.web import ZegelApp
from tests import factories
from tests.integration.dispatch.conftest import Magda
from tests.integration.dispatch.conftest import magda as magda
from tests.integration.dispatch.conftest import magda_server as magda_server

SYSTEM = audit.Actor.system("test")


@dataclass
class World:
    session: Session
    client: TestClient[ZegelApp]
    a: Organisation
    b: Organisation
    handler: StaffUser
    colleague: StaffUser
    desk: StaffUser
    handler_b: StaffUser
    recipient: Recipient

    def login(self, staff: StaffUser, org: Organisation | None = None) -> None:
        token = factories.web_session(
            self.session, "backoffice", staff=staff, organisation=org or self.a
        )
        self.session.commit()
        self.client.cookies.set("zegel_backoffice_session", token)

    def get(self, path: str, **kwargs: Any) -> Any:
        self.session.commit()
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any], form_page: str, **kwargs: Any) -> Any:
        self.session.commit()
        page = self.client.get(form_page).text
        match = re.search(r'name="_csrf_token" value="([^"]+)"', page)
        assert match, page[:500]
        return self.client.post(path, data={**data, "_csrf_token": match.group(1)}, **kwargs)


@pytest.fixture
def world(session: Session) -> Iterator[World]:
    a = factories.organisation(session, "Gemeente A")
    b = factories.organisation(session, "Gemeente B")
    handler = factories.staff_member(
        session, a, [StaffRole.DOSSIERBEHANDELAAR], name="Hanne Handel"
    )
    colleague = factories.staff_member(
        session, a, [StaffRole.DOSSIERBEHANDELAAR], name="Carl Collega"
    )
    desk = factories.staff_member(session, a, [StaffRole.ONTHAAL], name="Olga Onthaal")
    handler_b = factories.staff_member(session, b, [StaffRole.DOSSIERBEHANDELAAR])
    recipient = factories.citizen(session, a)
    session.commit()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield World(session, client, a, b, handler, colleague, desk, handler_b, recipient)


def sent_document(
    session: Session,
    org: Organisation,
    recipient: Recipient,
    *,
    title: str = "Belasting op tweede verblijven 2026",
    document_type: str = "tax_assessment",
    amount_cents: int | None = 12_000,
) -> Document:
    document = factories.document(session, org, recipient, title=title)
    document.document_type = document_type
    document.amount_due_cents = amount_cents
    factories.send(session, document)
    document.sent_at = utcnow() - timedelta(days=5)
    document.legal_sending_date = today() - timedelta(days=5)
    return document


def payment_request(
    session: Session,
    document: Document,
    *,
    status: PaymentRequestStatus = PaymentRequestStatus.SUSPENDED,
    digits: str | None = None,
) -> PaymentRequest:
    if digits is None:
        base = secrets.randbelow(10**10)
        check = base % 97 or 97
        digits = f"{base:010d}{check:02d}"
    payment = PaymentRequest(
        organisation_id=document.organisation_id,
        document_id=document.id,
        amount_cents=document.amount_due_cents or 12_000,
        due_date=today() + timedelta(days=30),
        structured_communication=digits,
        iban="BE71096123456769",
        status=status,
    )
    session.add(payment)
    session.flush()
    return payment


def dispute(
    session: Session,
    document: Document,
    *,
    service: str | None = None,
    status: DisputeStatus = DisputeStatus.RECEIVED,
    late: bool = False,
    answer_due: date | None = None,
    received_at: datetime | None = None,
    assigned_to: StaffUser | None = None,
) -> Dispute:
    """A dispute filed through the portal (disputes-core's `file_dispute`), then shaped for the
    queue's cases: another service, late, an answer deadline, an earlier receipt."""
    document.dispute_right = DisputeRight.MUNICIPAL_TAX_OBJECTION
    found = disputes.file_dispute(
        session,
        document,
        disputes.DisputeInput(grounds="Ik heb geen tweede verblijf: het is mijn hoofdverblijf."),
        channel=DisputeChannel.PORTAL,
        actor=disputes.citizen_actor(document),
    ).dispute
    if service is not None:
        found.competent_service = service
    found.late = late
    if answer_due is not None:
        found.answer_due_date = answer_due
    if received_at is not None:
        found.received_at = received_at
    found.assigned_to_id = assigned_to.id if assigned_to else None
    path = {
        DisputeStatus.RECEIVED: [],
        DisputeStatus.IN_PROGRESS: [DisputeStatus.IN_PROGRESS],
        DisputeStatus.WITHDRAWN: [DisputeStatus.WITHDRAWN],
    }[status]
    for target in path:
        transition(session, found, target, actor=SYSTEM)
    session.flush()
    return found


def _reload(session: Session, model: Any, id_: uuid.UUID) -> Any:
    session.expire_all()
    found = session.get(model, id_)
    session.rollback()
    return found


# -- the queue ---------------------------------------------------------------------------------


def test_the_queue_shows_the_own_organisation_per_service_with_filters(world: World) -> None:
    s = world.session
    tax = dispute(s, sent_document(s, world.a, world.recipient))
    assert tax.competent_service == "belastingen"  # from the document type (disputes-core)
    gas = dispute(
        s,
        sent_document(s, world.a, world.recipient, title="GAS-boete", document_type="gas_fine"),
        service="gas",
        late=True,
        answer_due=today() - timedelta(days=1),
        assigned_to=world.handler,
    )
    other_recipient = factories.citizen(s, world.b)
    foreign = dispute(s, sent_document(s, world.b, other_recipient, title="Ander bestuur"))
    world.login(world.handler)

    page = world.get("/bezwaren")
    assert page.status_code == 200
    assert tax.number in page.text
    assert gas.number in page.text
    assert foreign.organisation_id == world.b.id
    assert "Ander bestuur" not in page.text
    assert "2 bezwaren" in page.text
    assert "over tijd" in page.text  # the GAS dispute is past its answer deadline

    only = {
        "?dienst=gas": gas,
        "?dienst=belastingen": tax,
        "?mij=1": gas,
        "?overtijd=1": gas,
        "?laattijdig=1": gas,
        "?status=received": None,
    }
    for query, expected in only.items():
        text = world.get("/bezwaren" + query).text
        if expected is None:
            assert tax.number in text
            assert gas.number in text
        else:
            other = gas if expected is tax else tax
            assert expected.number in text, query
            assert other.number not in text, query

    bad = world.get("/bezwaren?status=verzonnen")
    assert "Kies een status uit de lijst." in bad.text


def test_the_queue_is_paginated(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispute_office, "PAGE_SIZE", 2)
    s = world.session
    numbers = [
        dispute(
            s,
            sent_document(s, world.a, world.recipient, title=f"Aanslag {n}"),
            answer_due=today() + timedelta(days=10 + n),
        ).number
        for n in range(3)
    ]
    world.login(world.handler)
    first = world.get("/bezwaren").text
    assert numbers[0] in first
    assert numbers[1] in first
    assert numbers[2] not in first
    assert "pagina 1 van 2" in first
    second = world.get("/bezwaren?pagina=2").text
    assert numbers[2] in second
    assert numbers[0] not in second


def test_another_organisations_dispute_does_not_exist(world: World) -> None:
    s = world.session
    other_recipient = factories.citizen(s, world.b)
    foreign = dispute(s, sent_document(s, world.b, other_recipient))
    world.login(world.handler)
    assert world.get(f"/bezwaren/{foreign.id}").status_code == 404
    world.login(world.handler_b, world.b)
    assert world.get(f"/bezwaren/{foreign.id}").status_code == 200


def test_the_front_office_and_signers_have_no_queue(world: World) -> None:
    world.login(world.desk)
    assert world.get("/bezwaren").status_code == 403


# -- handling ------------------------------------------------------------------------------------


def test_assign_take_into_handling_and_plan_a_hearing(world: World) -> None:
    s = world.session
    found = dispute(s, sent_document(s, world.a, world.recipient))
    world.login(world.handler)
    page = f"/bezwaren/{found.id}"

    done = world.post(
        f"{page}/toewijzen", {"behandelaar": str(world.colleague.id)}, page, follow_redirects=True
    )
    assert "Het bezwaar is toegewezen." in done.text
    assert _reload(s, Dispute, found.id).assigned_to_id == world.colleague.id

    refused = world.post(f"{page}/toewijzen", {"behandelaar": str(world.handler_b.id)}, page)
    assert refused.status_code == 422
    assert "Kies een dossierbehandelaar van dit bestuur uit de lijst." in refused.text
    assert _reload(s, Dispute, found.id).assigned_to_id == world.colleague.id

    taken = world.post(f"{page}/status", {"naar": "in_progress"}, page, follow_redirects=True)
    assert "Het bezwaar is in behandeling." in taken.text

    past = (datetime.now(BRUSSELS) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    refused = world.post(f"{page}/status", {"naar": "hearing_planned", "hoorzitting": past}, page)
    assert refused.status_code == 422
    assert "De hoorzitting kan niet in het verleden liggen." in refused.text
    assert _reload(s, Dispute, found.id).status is DisputeStatus.IN_PROGRESS

    later = (datetime.now(BRUSSELS) + timedelta(days=14)).strftime("%Y-%m-%dT10:30")
    planned = world.post(
        f"{page}/status",
        {"naar": "hearing_planned", "hoorzitting": later},
        page,
        follow_redirects=True,
    )
    assert "De hoorzitting is gepland." in planned.text
    after = _reload(s, Dispute, found.id)
    assert after.status is DisputeStatus.HEARING_PLANNED
    assert after.hearing_at is not None

    actions = s.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_id == str(found.id))
        .order_by(AuditEvent.sequence)
    ).all()
    s.rollback()
    assert actions == [
        "dispute.received",
        "dispute.assigned",
        "dispute.in_progress",
        "dispute.hearing_planned",
    ]
    timeline = world.get(page).text.split('id="tijdlijn-titel"', 1)[1]
    lines = re.findall(r"</time>\s*— ([^<]+?)\s*<span", timeline)
    assert lines == [
        "Bezwaar ontvangen (online, via het portaal)",
        "Toegewezen aan Carl Collega",
        "In behandeling",
        f"Hoorzitting gepland op {format_datetime(after.hearing_at)}",
    ]


def test_an_illegal_transition_is_refused_with_a_clear_message(world: World) -> None:
    s = world.session
    found = dispute(s, sent_document(s, world.a, world.recipient), status=DisputeStatus.WITHDRAWN)
    world.login(world.handler)
    page = f"/bezwaren/{found.id}"
    refused = world.post(f"{page}/status", {"naar": "in_progress"}, page)
    assert refused.status_code == 409
    assert "Het bezwaar staat op ‘ingetrokken’ en kan niet naar ‘in behandeling’." in refused.text

    received = dispute(s, sent_document(s, world.a, world.recipient, title="Nog een"))
    page = f"/bezwaren/{received.id}"
    refused = world.post(
        f"{page}/beslissen", {"uitkomst": "gegrond", "motivering": "Terecht."}, page
    )
    assert refused.status_code == 409
    assert "Het bezwaar staat op ‘ontvangen’ en kan niet naar ‘beslist’." in refused.text
    assert _reload(s, Dispute, received.id).status is DisputeStatus.RECEIVED
    assert s.scalar(select(Document).where(Document.document_type == "dispute_answer")) is None


def test_withdrawing_needs_how_and_resumes_a_suspended_payment(world: World) -> None:
    s = world.session
    document = sent_document(s, world.a, world.recipient)
    payment = payment_request(s, document)
    found = dispute(s, document)
    world.login(world.handler)
    page = f"/bezwaren/{found.id}"
    refused = world.post(f"{page}/status", {"naar": "withdrawn", "reden": "  "}, page)
    assert refused.status_code == 422
    assert "Geef aan hoe de burger het bezwaar introk." in refused.text
    done = world.post(
        f"{page}/status",
        {"naar": "withdrawn", "reden": "Brief van 3 december"},
        page,
        follow_redirects=True,
    )
    assert "ingetrokken" in done.text
    assert _reload(s, PaymentRequest, payment.id).status is PaymentRequestStatus.OPEN


def test_internal_notes(world: World) -> None:
    s = world.session
    found = dispute(s, sent_document(s, world.a, world.recipient))
    world.login(world.handler)
    page = f"/bezwaren/{found.id}"
    empty = world.post(f"{page}/notities", {"notitie": "   "}, page)
    assert empty.status_code == 422
    assert "Schrijf eerst een notitie." in empty.text
    saved = world.post(
        f"{page}/notities", {"notitie": "Kadaster nagevraagd."}, page, follow_redirects=True
    )
    assert "Kadaster nagevraagd." in saved.text
    assert "Hanne Handel" in saved.text
    notes = s.scalars(select(DisputeNote.text)).all()
    s.rollback()
    assert notes == ["Kadaster nagevraagd."]


# -- deciding ----------------------------------------------------------------------------------


def _in_progress(world: World, **kwargs: Any) -> tuple[Dispute, PaymentRequest]:
    s = world.session
    document = sent_document(s, world.a, world.recipient)
    payment = payment_request(s, document, **kwargs)
    return dispute(s, document, status=DisputeStatus.IN_PROGRESS), payment


def test_deciding_refuses_bad_input_and_changes_nothing(world: World) -> None:
    found, _payment = _in_progress(world)
    world.login(world.handler)
    page = f"/bezwaren/{found.id}"
    cases = [
        ({"uitkomst": "", "motivering": "x"}, "Kies de beslissing"),
        ({"uitkomst": "gegrond", "motivering": "  "}, "Geef de motivering van de beslissing"),
        ({"uitkomst": "deels_gegrond", "motivering": "Deels."}, "Geef het verminderde bedrag"),
        (
            {"uitkomst": "deels_gegrond", "motivering": "Deels.", "bedrag": "120,00"},
            "kleiner dan €\xa0120,00",
        ),
        ({"uitkomst": "deels_gegrond", "motivering": "Deels.", "bedrag": "abc"}, "bedrag"),
        ({"uitkomst": "ongegrond", "motivering": "Nee.", "bedrag": "10"}, "alleen bij"),
    ]
    for data, message in cases:
        refused = world.post(f"{page}/beslissen", data, page)
        assert refused.status_code == 422, data
        assert message in refused.text, (data, message)
        if data.get("motivering", "").strip():
            assert data["motivering"] in refused.text, "what was typed is kept"
    not_pdf = world.post(
        f"{page}/beslissen",
        {"uitkomst": "gegrond"},
        page,
        files={"brief": ("brief.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")},
    )
    assert not_pdf.status_code == 422
    assert _reload(world.session, Dispute, found.id).status is DisputeStatus.IN_PROGRESS
    assert (
        world.session.scalar(select(Document).where(Document.document_type == "dispute_answer"))
        is None
    )


def test_deciding_makes_the_answer_document_for_the_same_recipient(world: World) -> None:
    found, _payment = _in_progress(world)
    world.login(world.handler)
    page = f"/bezwaren/{found.id}"
    done = world.post(
        f"{page}/beslissen",
        {"uitkomst": "gegrond", "motivering": "De woning is uw hoofdverblijf."},
        page,
        follow_redirects=True,
    )
    assert done.status_code == 200, done.text
    assert "De beslissing is geregistreerd." in done.text
    after = _reload(world.session, Dispute, found.id)
    assert after.status is DisputeStatus.DECIDED
    assert after.outcome.value == "gegrond"
    answer = _reload(world.session, Document, after.answer_document_id)
    assert answer.document_type == "dispute_answer"
    assert answer.status is DocumentStatus.DRAFT
    assert answer.recipient_id == world.recipient.id
    assert answer.intake_check
    assert answer.intake_check["findings"] == []
    assert f'href="/stukken/{answer.id}"' in done.text


def _send(session: Session, org: Organisation, answer_id: uuid.UUID) -> None:
    """Screen (no signature, to keep this test about the dispute), queue and submit."""
    answer = session.get(Document, answer_id)
    assert answer is not None
    screen_document(session, answer, actor=SYSTEM, override=ScreeningOverride((), "test"))
    dispatch.send_one(session, org.id, answer_id, actor=SYSTEM)
    session.commit()
    assert Worker("test-worker").run_pending() >= 1


def _ebox_citizen(world: World) -> None:
    person = testdata.person_by_key("an-janssens")
    world.recipient.ssin_digest = ssin_digest(person.ssin)
    world.recipient.ssin_sealed = seal(person.ssin)
    world.recipient.name = person.name
    world.recipient.ebox_status = EboxStatus.ACTIVATED
    world.recipient.ebox_checked_at = utcnow()
    world.recipient.ebox_source = "test"
    world.session.flush()


@pytest.mark.parametrize(
    ("outcome", "amount", "before", "after_status", "after_cents"),
    [
        ("gegrond", "", PaymentRequestStatus.SUSPENDED, PaymentRequestStatus.CANCELLED, 12_000),
        (
            "deels_gegrond",
            "45,50",
            PaymentRequestStatus.SUSPENDED,
            PaymentRequestStatus.OPEN,
            4_550,
        ),
        ("ongegrond", "", PaymentRequestStatus.SUSPENDED, PaymentRequestStatus.OPEN, 12_000),
        ("onontvankelijk", "", PaymentRequestStatus.OPEN, PaymentRequestStatus.OPEN, 12_000),
    ],
)
def test_sending_the_answer_closes_the_dispute_and_the_payment_follows(
    world: World,
    magda: Magda,
    outcome: str,
    amount: str,
    before: PaymentRequestStatus,
    after_status: PaymentRequestStatus,
    after_cents: int,
) -> None:
    _ebox_citizen(world)
    found, payment = _in_progress(world, status=before)
    world.login(world.handler)
    page = f"/bezwaren/{found.id}"
    decided = world.post(
        f"{page}/beslissen",
        {"uitkomst": outcome, "motivering": "Zie de motivering.", "bedrag": amount},
        page,
    )
    assert decided.status_code in (200, 303), decided.text
    s = world.session
    answer_id = _reload(s, Dispute, found.id).answer_document_id
    assert _reload(s, Dispute, found.id).status is DisputeStatus.DECIDED
    assert _reload(s, PaymentRequest, payment.id).status is before, "nothing moves before sending"

    _send(s, world.a, answer_id)

    closed = _reload(s, Dispute, found.id)
    assert closed.status is DisputeStatus.CLOSED
    assert closed.closed_at is not None
    sent = s.scalars(select(Dispatch).where(Dispatch.document_id == answer_id)).one()
    s.rollback()
    assert sent.status is DispatchStatus.SUBMITTED
    assert sent.channel is Channel.EBOX
    after = _reload(s, PaymentRequest, payment.id)
    assert (after.status, after.amount_cents) == (after_status, after_cents)
    actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(found.id))))
    s.rollback()
    assert {"dispute.decided", "dispute.closed"} <= actions

    # The citizen sees the outcome in the portal's timeline of the disputed document.
    from portal.app import create_app as create_portal

    person = testdata.person_by_key("an-janssens")
    token = factories.web_session(s, "portal", ssin=person.ssin)
    disputed = s.get(Document, found.document_id)
    assert disputed is not None
    link = f"/d/{disputed.public_token}"
    s.commit()
    with TestClient(create_portal(), raise_server_exceptions=False) as portal:
        portal.cookies.set("zegel_portal_session", token)
        shown = portal.get(link)
    assert shown.status_code == 200
    words = {"deels_gegrond": "deels gegrond"}.get(outcome, outcome)
    assert f"Beslissing over uw bezwaar verstuurd: uw bezwaar is {words}" in shown.text
    if outcome == "gegrond":
        assert "Betaling geannuleerd" in shown.text
    if outcome == "deels_gegrond":
        assert "Te betalen bedrag verminderd tot €\xa045,50" in shown.text

    # A second submission of the same answer changes nothing (idempotent hook).
    with session_scope() as again:
        answer = again.get(Document, answer_id)
        assert answer is not None
        assert dispute_office.answer_sent(again, answer) is None


# -- report ------------------------------------------------------------------------------------


def test_the_report_counts_per_service_and_outcome_with_the_handling_time(world: World) -> None:
    s = world.session
    from shared.models import DisputeOutcome

    for service, outcome, days in (
        ("belastingen", DisputeOutcome.FOUNDED, 10),
        ("belastingen", DisputeOutcome.UNFOUNDED, 20),
        ("gas", None, None),
    ):
        found = dispute(
            s,
            sent_document(s, world.a, world.recipient, title=f"{service} {days}"),
            service=service,
            received_at=utcnow() - timedelta(days=30),
        )
        if outcome is not None and days is not None:
            found.status = DisputeStatus.DECIDED
            found.outcome = outcome
            found.decided_at = found.received_at + timedelta(days=days)
    world.login(world.handler)
    page = world.get("/bezwaren/rapport")
    assert page.status_code == 200
    assert "15,0" in page.text  # the average of 10 and 20 days
    text = re.sub(r"\s+", " ", page.text)
    assert re.search(
        r'Belastingen</th> <td class="numeric">2</td> <td class="numeric">0</td>'
        r' <td class="numeric">1</td>',
        text,
    )
    assert "GAS-ambtenaar" in text
    assert '<svg class="chart__svg"' in page.text
    assert world.get("/bezwaren/rapport?maanden=5").status_code == 422


# -- the front office's search -------------------------------------------------------------------


def test_the_front_office_finds_a_document_by_every_number_on_the_letter(world: World) -> None:
    s = world.session
    document = sent_document(s, world.a, world.recipient, title="Aanslag Kerkstraat")
    document.access_code = "7K3M9Q2R5T8V"
    payment = payment_request(s, document, status=PaymentRequestStatus.OPEN)
    s.add(
        Dispatch(
            organisation_id=world.a.id,
            document_id=document.id,
            recipient_name=world.recipient.name,
            channel=Channel.PAPER,
            channel_reason="test",
            status=DispatchStatus.SUBMITTED,
            idempotency_key=uuid.uuid4().hex,
            register_year=2026,
            register_sequence=123,
        )
    )
    other = factories.citizen(s, world.b, name="Jan Peeters")
    foreign = sent_document(s, world.b, other, title="Aanslag ander bestuur")
    foreign.access_code = "ABCDEFGH2345"
    world.login(world.desk)

    ogm = payment.structured_communication
    for typed in (
        "2026/000123",
        "2026/123",
        f"+++{ogm[:3]}/{ogm[3:7]}/{ogm[7:]}+++",
        ogm,
        f"https://portaal.zegelbeek.be/d/{document.public_token}",
        "7k3m-9q2r-5t8v",
        "peeters",
    ):
        found = world.get("/onthaal", params={"zoek": typed})
        assert found.status_code == 200
        assert "Aanslag Kerkstraat" in found.text, typed
        assert "Aanslag ander bestuur" not in found.text, typed
        assert "2026/000123" in found.text
    nothing = world.get("/onthaal", params={"zoek": "ABCD-EFGH-2345"})
    assert "Aanslag ander bestuur" not in nothing.text
    assert "Geen verzonden stuk van uw bestuur gevonden." in nothing.text
    empty = world.get("/onthaal", params={"zoek": "  "})
    assert empty.status_code == 422
    assert "Geef een registernummer" in empty.text
    assert world.get(f"/onthaal/stukken/{foreign.id}").status_code == 404
    assert world.get(f"/onthaal/stukken/{document.id}").status_code == 200


def test_a_draft_is_not_found_at_the_front_office(world: World) -> None:
    s = world.session
    draft = factories.document(s, world.a, world.recipient, title="Nog niet verzonden")
    world.login(world.desk)
    assert "Nog niet verzonden" not in world.get("/onthaal", params={"zoek": "Peeters"}).text
    assert world.get(f"/onthaal/stukken/{draft.id}").status_code == 404


def test_the_front_office_search_is_for_staff_with_a_desk_role(world: World) -> None:
    signer = factories.staff_member(world.session, world.a, [StaffRole.ONDERTEKENAAR])
    world.login(signer)
    assert world.get("/onthaal").status_code == 403


# -- the front office registers a paper dispute ------------------------------------------------


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (250, 250, 250)).save(out, format="PNG")
    return out.getvalue()


def _disputable(world: World, *, sent_days_ago: int = 5, title: str = "Aanslag") -> Document:
    document = sent_document(world.session, world.a, world.recipient, title=title)
    document.dispute_right = DisputeRight.MUNICIPAL_TAX_OBJECTION
    document.legal_sending_date = today() - timedelta(days=sent_days_ago)
    world.session.flush()
    return document


def _register(world: World, document: Document, **fields: Any) -> Any:
    page = f"/onthaal/stukken/{document.id}"
    data = {
        "kanaal": "post",
        "ontvangen_op": (today() - timedelta(days=3)).isoformat(),
        "gronden": "Ik woon hier sinds 2019; het is geen tweede verblijf.",
        **{k: v for k, v in fields.items() if k != "files"},
    }
    files = fields.get("files", {"bijlagen": ("scan.png", _png(), "image/png")})
    return world.post(f"{page}/bezwaar", data, page, files=files)


def test_the_front_office_registers_a_paper_dispute_with_a_past_date_of_receipt(
    world: World,
) -> None:
    document = _disputable(world)
    world.login(world.desk)
    page = world.get(f"/onthaal/stukken/{document.id}")
    assert "Bezwaar mogelijk tot" in page.text
    done = _register(world, document)
    assert done.status_code == 200, done.text
    assert "geregistreerd" in done.text
    assert "Binnen de termijn" in done.text
    s = world.session
    filed = s.scalars(select(Dispute).where(Dispute.document_id == document.id)).one()
    s.rollback()
    assert filed.channel is DisputeChannel.POST
    assert filed.received_at.astimezone(BRUSSELS).date() == today() - timedelta(days=3)
    assert filed.late is False
    assert filed.registered_by_id == world.desk.id
    assert filed.competent_service == "belastingen"
    assert len(filed.attachments) == 1

    receipt = world.get(f"/onthaal/bezwaren/{filed.id}/ontvangstbewijs.pdf")
    assert receipt.status_code == 200
    assert receipt.headers["content-type"] == "application/pdf"
    assert receipt.content.startswith(b"%PDF-")

    # The handlers find it in the same queue as online disputes, with the scan.
    world.login(world.handler)
    assert filed.number in world.get("/bezwaren?dienst=belastingen").text
    scan = world.get(f"/bezwaren/{filed.id}/bijlagen/{filed.attachments[0].id}")
    assert scan.status_code == 200
    assert scan.headers["content-type"].startswith("image/png")
    assert world.get(f"/bezwaren/{filed.id}/bijlagen/{uuid.uuid4()}").status_code == 404
    world.login(world.handler_b, world.b)
    assert world.get(f"/bezwaren/{filed.id}/bijlagen/{filed.attachments[0].id}").status_code == 404


def test_a_late_paper_dispute_is_registered_and_marked_late_by_its_date_of_receipt(
    world: World,
) -> None:
    document = _disputable(world, sent_days_ago=200)
    world.login(world.desk)
    done = _register(world, document, kanaal="desk")
    assert done.status_code == 200
    assert "laattijdig" in done.text
    filed = world.session.scalars(select(Dispute)).one()
    world.session.rollback()
    assert filed.late is True
    assert filed.channel is DisputeChannel.DESK


def test_the_postmark_counts_for_the_deadline(world: World) -> None:
    document = _disputable(world, sent_days_ago=120)
    last_day = dispute_office.deadline_of(world.session, document).last_day  # type: ignore[union-attr]
    assert last_day is not None
    world.login(world.desk)
    done = _register(
        world,
        document,
        ontvangen_op=(last_day + timedelta(days=2)).isoformat(),
        poststempel=last_day.isoformat(),
    )
    assert done.status_code == 200, done.text
    filed = world.session.scalars(select(Dispute)).one()
    world.session.rollback()
    assert filed.late is False
    assert filed.postmark_date == last_day


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"poststempel": (today() + timedelta(days=2)).isoformat()},
            "poststempel",
            "De datum van de poststempel ligt in de toekomst.",
        ),
        (
            {"ontvangen_op": (today() + timedelta(days=1)).isoformat()},
            "ontvangen_op",
            "De datum van ontvangst ligt in de toekomst.",
        ),
        ({"ontvangen_op": ""}, "ontvangen_op", "Vul de datum van ontvangst in."),
        ({"gronden": "   "}, "gronden", "Neem de gronden van het bezwaar over uit de brief."),
        ({"kanaal": "portal"}, "kanaal", "Kies hoe het bezwaar binnenkwam"),
        ({"files": {}}, "bijlagen", "Laad de scan van de brief op"),
        (
            {"files": {"bijlagen": ("scan.pdf", b"MZ\x90\x00\x03 program", "application/pdf")}},
            "bijlagen",
            "is geen PDF, JPEG of PNG",
        ),
        ({"email": "geen-adres"}, "email", "Dit e-mailadres is niet geldig."),
    ],
)
def test_bad_paper_input_is_refused_with_a_message_and_kept(
    world: World, fields: dict[str, Any], field: str, message: str
) -> None:
    document = _disputable(world)
    world.login(world.desk)
    refused = _register(world, document, **fields)
    assert refused.status_code == 422
    assert message in refused.text
    assert f'href="#veld-{field}"' in refused.text
    if fields.get("gronden", "x").strip():
        assert "het is geen tweede verblijf" in refused.text, "what was typed is kept"
    assert world.session.scalars(select(Dispute)).all() == []
    world.session.rollback()


def test_the_same_form_sent_twice_registers_one_dispute(world: World) -> None:
    document = _disputable(world)
    world.login(world.desk)
    key = disputes.new_submission_key()
    first = _register(world, document, sleutel=key)
    second = _register(world, document, sleutel=key)
    assert first.status_code == second.status_code == 200
    assert len(world.session.scalars(select(Dispute)).all()) == 1
    world.session.rollback()


def test_another_organisations_document_cannot_get_a_paper_dispute(world: World) -> None:
    other = factories.citizen(world.session, world.b)
    foreign = sent_document(world.session, world.b, other)
    foreign.dispute_right = DisputeRight.MUNICIPAL_TAX_OBJECTION
    mine = _disputable(world)
    world.login(world.desk)
    page = f"/onthaal/stukken/{mine.id}"
    refused = world.post(
        f"/onthaal/stukken/{foreign.id}/bezwaar",
        {"kanaal": "desk", "ontvangen_op": today().isoformat(), "gronden": "x"},
        page,
        files={"bijlagen": ("scan.png", _png(), "image/png")},
    )
    assert refused.status_code == 404
    assert world.session.scalars(select(Dispute)).all() == []
    world.session.rollback()


def test_the_receipt_is_e_mailed_on_request(world: World) -> None:
    from shared.models import Job

    document = _disputable(world)
    world.login(world.desk)
    _register(world, document)
    filed = world.session.scalars(select(Dispute)).one()
    world.session.rollback()
    page = f"/onthaal/bezwaren/{filed.id}"
    bad = world.post(f"{page}/mail", {"email": "niet juist"}, page)
    assert bad.status_code == 422
    assert "Dit e-mailadres is niet geldig." in bad.text
    done = world.post(f"{page}/mail", {"email": "an@example.org"}, page, follow_redirects=True)
    assert "Het ontvangstbewijs wordt naar an@example.org gestuurd." in done.text
    kinds = world.session.scalars(select(Job.kind)).all()
    world.session.rollback()
    assert kinds.count(disputes.RECEIPT_MAIL_JOB) == 1


@pytest.mark.parametrize(
    ("outcome", "amount", "paid", "after_status", "refund"),
    [
        ("gegrond", "", 12_000, PaymentRequestStatus.PAID, 12_000),
        ("deels_gegrond", "45,50", 5_000, PaymentRequestStatus.PAID, 450),
        ("deels_gegrond", "80", 5_000, PaymentRequestStatus.PARTIALLY_PAID, None),
        ("ongegrond", "", 5_000, PaymentRequestStatus.PARTIALLY_PAID, None),
    ],
)
def test_money_already_paid_is_kept_and_an_overpayment_is_marked_for_refund(
    world: World,
    outcome: str,
    amount: str,
    paid: int,
    after_status: PaymentRequestStatus,
    refund: int | None,
) -> None:
    from shared.models import Payment, PaymentMethod, PaymentStatus
    from shared.services.access import StaffContext

    s = world.session
    found, payment = _in_progress(world)
    s.add(
        Payment(
            organisation_id=world.a.id,
            payment_request_id=payment.id,
            amount_cents=paid,
            method=PaymentMethod.BANK_TRANSFER,
            status=PaymentStatus.SUCCEEDED,
            external_id=uuid.uuid4().hex,
            received_at=utcnow(),
        )
    )
    context = StaffContext(
        user_id=world.handler.id,
        name=world.handler.name,
        organisation_id=world.a.id,
        organisation_name=world.a.name,
        roles=frozenset({StaffRole.DOSSIERBEHANDELAAR}),
        organisations=((world.a.id, world.a.name),),
    )
    decided = dispute_office.decide(
        s,
        context,
        found.id,
        dispute_office.DecisionInput(
            outcome=outcome, motivation="Zo is het.", reduced_amount=amount
        ),
    )
    assert dispute_office.answer_sent(s, decided.answer) is not None
    assert payment.status is after_status
    refunds = s.scalars(
        select(AuditEvent).where(
            AuditEvent.object_id == str(payment.id),
            AuditEvent.action == "payment_request.refund_due",
        )
    ).all()
    assert [e.data["refund_cents"] for e in refunds] == ([refund] if refund else [])
    texts = [e.text for e in timeline.payment_request_timeline(s, world.a.id, payment.id)]
    assert not [t for t in texts if t.startswith("payment_request.")]  # every event in words
    if refund:
        assert f"Terug te betalen na bezwaar: {format_money(refund)}" in texts
