"""Filing a dispute (shared.services.disputes) and checking its attachments, with the database."""

from __future__ import annotations

import io
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.errors import FieldErrors, InvalidInput
from shared.integrations.mail.sandbox import MailSink
from shared.jobs import Worker
from shared.models import (
    AuditEvent,
    Channel,
    Dispatch,
    DispatchStatus,
    Dispute,
    DisputeChannel,
    DisputeCounter,
    DisputeRight,
    DisputeRuleSet,
    Document,
    Job,
    Organisation,
    PaymentMethod,
    PaymentRequest,
    PaymentRequestStatus,
    Recipient,
    StaffRole,
)
from shared.services import attachments, audit, dispute_receipts, disputes, document_types, payments
from shared.services.attachments import Upload
from shared.services.disputes import DisputeInput, file_dispute
from shared.storage import get_storage
from shared.timeutil import BRUSSELS, today
from tests import factories

STAFF = audit.Actor.system("front office test")


def pdf_bytes(text: str = "Mijn bewijsstuk") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def raw_pdf(catalog_extra: str, extra_objects: Sequence[str] = ()) -> bytes:
    """A small valid PDF written by hand: one empty page, `catalog_extra` in the catalog."""
    objects = [
        f"<< /Type /Catalog /Pages 2 0 R {catalog_extra} >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        *extra_objects,
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def pdf_with_javascript() -> bytes:
    return raw_pdf("/OpenAction 4 0 R", ["<< /S /JavaScript /JS (app.alert\\('hallo'\\);) >>"])


def pdf_with_disguised_javascript() -> bytes:
    """The action's name written with a hex escape, as malware does to dodge naive scanners."""
    return raw_pdf("/OpenAction 4 0 R", ["<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>"])


def pdf_with_launch_action() -> bytes:
    return raw_pdf("/OpenAction << /S /Launch /F (cmd.exe) >>")


def pdf_with_embedded_file() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_attachment("virus.exe", b"MZ\x90\x00 not really")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "Telefoonmerk"  # Make
    exif[0x0131] = "GeheimeSoftware"  # Software
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 100, 0)).save(out, format="PNG")
    return out.getvalue() + b"hidden payload after IEND"


def sent_document(
    session: Session,
    org: Organisation,
    *,
    right: DisputeRight = DisputeRight.MUNICIPAL_TAX_OBJECTION,
    sent_on: date | None = None,
    document_type: str = "tax_assessment",
) -> Document:
    recipient = session.scalars(
        select(Recipient).where(Recipient.organisation_id == org.id)
    ).first() or factories.citizen(session, org)
    document = factories.document(session, org, recipient, title="Belasting op tweede verblijven")
    document.dispute_right = right
    document.document_type = document_type
    factories.send(session, document)
    document.legal_sending_date = sent_on or today() - timedelta(days=5)
    document.sent_at = datetime.combine(document.legal_sending_date, datetime.min.time(), UTC)
    session.flush()
    return document


def citizen_files(session: Session, document: Document, **fields: object) -> disputes.Filed:
    data = DisputeInput(**{"grounds": "Ik heb geen tweede verblijf.", **fields})  # type: ignore[arg-type]
    return file_dispute(
        session,
        document,
        data,
        channel=DisputeChannel.PORTAL,
        actor=disputes.citizen_actor(document),
    )


def test_a_portal_dispute_gets_a_number_a_service_an_answer_deadline_and_an_audit_event(
    session: Session,
) -> None:
    org = factories.organisation(session)
    document = sent_document(session, org)
    filed = citizen_files(
        session,
        document,
        hearing_requested=True,
        contact_email="jan@example.org",
        contact_phone="+32 470 12 34 56",
        uploads=[Upload("bewijs.pdf", pdf_bytes())],
        submission_key="k" * 32,
    )
    dispute = filed.dispute
    assert filed.created
    assert dispute.number == f"B-{today().year}-00001"
    assert dispute.channel is DisputeChannel.PORTAL
    assert dispute.competent_service == "belastingen"
    assert dispute.late is False
    assert dispute.hearing_requested is True
    assert dispute.deadline_date is not None
    assert dispute.deadline_date > today()
    assert dispute.answer_due_date is not None
    assert dispute.answer_due_date >= today() + timedelta(days=180)
    [attachment] = dispute.attachments
    assert attachment.content_type == "application/pdf"
    assert get_storage().get(attachment.sha256).startswith(b"%PDF-")
    event = session.scalars(select(AuditEvent).where(AuditEvent.object_id == str(dispute.id))).one()
    assert event.action == "dispute.received"
    assert event.actor_type == "citizen"
    assert event.data["number"] == dispute.number
    job = session.scalars(select(Job).where(Job.kind == disputes.RECEIPT_MAIL_JOB)).one()
    assert job.payload == {"dispute_id": str(dispute.id)}


def test_numbers_are_per_organisation_and_consecutive(session: Session) -> None:
    one, other = factories.organisation(session), factories.organisation(session, "Gemeente B")
    year = today().year
    numbers = [
        citizen_files(session, sent_document(session, one), grounds=f"Grond {i}").dispute.number
        for i in range(3)
    ]
    assert numbers == [f"B-{year}-00001", f"B-{year}-00002", f"B-{year}-00003"]
    assert citizen_files(session, sent_document(session, other)).dispute.number == (
        f"B-{year}-00001"
    )


def test_the_same_submission_key_returns_the_first_dispute(session: Session) -> None:
    org = factories.organisation(session)
    document = sent_document(session, org)
    first = citizen_files(session, document, submission_key="a" * 32)
    second = citizen_files(
        session, document, submission_key="a" * 32, grounds="Een andere tekst, tweede klik."
    )
    assert second.created is False
    assert second.dispute.id == first.dispute.id
    assert session.scalars(select(Dispute)).all() == [first.dispute]
    assert (
        len(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "dispute.received")).all()
        )
        == 1
    )


def test_the_same_grounds_from_a_second_form_return_the_open_dispute(session: Session) -> None:
    org = factories.organisation(session)
    document = sent_document(session, org)
    first = citizen_files(session, document, submission_key="a" * 32)
    again = citizen_files(session, document, submission_key="b" * 32)
    assert again.created is False
    assert again.dispute.id == first.dispute.id
    other = citizen_files(session, document, submission_key="c" * 32, grounds="Nog iets anders.")
    assert other.created is True


@pytest.mark.parametrize("grounds", ["", "   \n\t  "])
def test_empty_grounds_are_refused(session: Session, grounds: str) -> None:
    org = factories.organisation(session)
    document = sent_document(session, org)
    with pytest.raises(FieldErrors) as caught:
        citizen_files(session, document, grounds=grounds)
    assert "gronden" in caught.value.errors
    assert session.scalars(select(Dispute)).all() == []


def test_bad_contact_details_are_refused_by_field(session: Session) -> None:
    org = factories.organisation(session)
    document = sent_document(session, org)
    with pytest.raises(FieldErrors) as caught:
        citizen_files(session, document, contact_email="geen-adres", contact_phone="bel me")
    assert set(caught.value.errors) == {"email", "telefoon"}


def test_a_document_without_a_dispute_right_or_not_sent_cannot_be_disputed(
    session: Session,
) -> None:
    org = factories.organisation(session)
    document = sent_document(session, org, right=DisputeRight.NONE)
    with pytest.raises(InvalidInput):
        citizen_files(session, document)
    draft = factories.document(session, org, factories.citizen(session, org, ssin="01010100126"))
    draft.dispute_right = DisputeRight.MUNICIPAL_TAX_OBJECTION
    with pytest.raises(InvalidInput):
        citizen_files(session, draft)


def test_the_portal_refuses_a_dispute_after_the_deadline(session: Session) -> None:
    org = factories.organisation(session)
    document = sent_document(session, org, sent_on=today() - timedelta(days=200))
    with pytest.raises(InvalidInput) as caught:
        citizen_files(session, document)
    assert caught.value.code == "dispute_late"
    assert "liep af op" in caught.value.message
    assert session.scalars(select(Dispute)).all() == []


def test_staff_register_a_late_paper_dispute_marked_late(session: Session) -> None:
    org = factories.organisation(session)
    document = sent_document(session, org, sent_on=today() - timedelta(days=200))
    filed = file_dispute(
        session,
        document,
        DisputeInput(grounds="Brief aan het loket afgegeven."),
        channel=DisputeChannel.DESK,
        actor=STAFF,
        received_at=datetime.now(UTC) - timedelta(days=1),
    )
    assert filed.dispute.late is True
    assert filed.dispute.channel is DisputeChannel.DESK


def test_a_postmark_within_the_deadline_makes_a_paper_dispute_on_time(session: Session) -> None:
    org = factories.organisation(session)
    # GAS appeal sent on 2 March 2026: the last day is 2 April 2026 (Thursday).
    document = sent_document(
        session,
        org,
        right=DisputeRight.GAS_APPEAL,
        sent_on=date(2026, 3, 2),
        document_type="gas_fine",
    )
    received = datetime(2026, 4, 7, 9, 0, tzinfo=UTC)
    on_time = file_dispute(
        session,
        document,
        DisputeInput(grounds="Per post verstuurd op tijd."),
        channel=DisputeChannel.POST,
        actor=STAFF,
        received_at=received,
        postmark_date=date(2026, 4, 2),
    ).dispute
    assert on_time.late is False
    assert on_time.deadline_date == date(2026, 4, 2)
    assert on_time.competent_service == "gas"
    late = file_dispute(
        session,
        document,
        DisputeInput(grounds="Per post verstuurd te laat."),
        channel=DisputeChannel.POST,
        actor=STAFF,
        received_at=received,
        postmark_date=date(2026, 4, 3),
    ).dispute
    assert late.late is True
    by_receipt = file_dispute(
        session,
        document,
        DisputeInput(grounds="Aan het loket afgegeven, zonder poststempel."),
        channel=DisputeChannel.DESK,
        actor=STAFF,
        received_at=datetime(2026, 4, 2, 14, 0, tzinfo=UTC),
    ).dispute
    assert by_receipt.late is False


def test_paper_dates_in_the_future_or_postmark_after_receipt_are_refused(session: Session) -> None:
    org = factories.organisation(session)
    document = sent_document(session, org)
    with pytest.raises(FieldErrors) as caught:
        file_dispute(
            session,
            document,
            DisputeInput(grounds="x"),
            channel=DisputeChannel.POST,
            actor=STAFF,
            received_at=datetime.now(UTC) + timedelta(days=3),
        )
    assert "ontvangen_op" in caught.value.errors
    with pytest.raises(FieldErrors) as caught:
        file_dispute(
            session,
            document,
            DisputeInput(grounds="x"),
            channel=DisputeChannel.POST,
            actor=STAFF,
            received_at=datetime.now(UTC) - timedelta(days=3),
            postmark_date=today(),
        )
    assert "poststempel" in caught.value.errors


def test_registered_mail_counts_from_the_delivery_date(session: Session) -> None:
    org = factories.organisation(session)
    document = sent_document(
        session,
        org,
        right=DisputeRight.GAS_APPEAL,
        sent_on=date(2026, 3, 2),
        document_type="gas_fine",
    )
    dispatch = Dispatch(
        id=uuid.uuid4(),
        organisation_id=org.id,
        document_id=document.id,
        channel=Channel.REGISTERED,
        channel_reason="test",
        status=DispatchStatus.DELIVERED,
        idempotency_key=uuid.uuid4().hex,
        submitted_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        delivered_at=datetime(2026, 3, 9, 10, 0, tzinfo=UTC),
    )
    session.add(dispatch)
    session.flush()
    from shared.services.dispute_deadlines import deadline_for

    deadline = deadline_for(session, document)
    assert deadline is not None
    assert deadline.by_delivery
    assert deadline.reference_date == date(2026, 3, 9)
    assert deadline.last_day == date(2026, 4, 9)
    dispatch.status = DispatchStatus.POSTED
    session.flush()
    not_yet = deadline_for(session, document)
    assert not_yet is not None
    assert not_yet.last_day is None


def _with_payment(session: Session, document: Document, cents: int = 12_550) -> PaymentRequest:
    document.amount_due_cents = cents
    document.due_date = today() + timedelta(days=30)
    request = payments.create_for_document(session, document, actor=factories.SYSTEM)
    assert request is not None
    return request


def test_a_dispute_suspends_the_payment_where_the_document_type_says_so(
    session: Session,
) -> None:
    # GAS fines: an appeal suspends the fine (the catalogue's default).
    org = factories.organisation(session)
    fine = sent_document(session, org, right=DisputeRight.GAS_APPEAL, document_type="gas_fine")
    request = _with_payment(session, fine)
    filed = citizen_files(session, fine)
    assert request.status is PaymentRequestStatus.SUSPENDED
    suspended = session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_id == str(request.id),
            AuditEvent.action == "payment_request.suspended",
        )
    ).one()
    assert suspended.data["reason"] == f"Bezwaar {filed.dispute.number}"


def test_a_dispute_leaves_the_payment_running_unless_the_policy_suspends_it(
    session: Session,
) -> None:
    org = factories.organisation(session)
    tax = sent_document(session, org)
    request = _with_payment(session, tax)
    citizen_files(session, tax)
    assert request.status is PaymentRequestStatus.OPEN  # taxes: not by default

    # The beheerder makes disputes against tax assessments suspend the payment.
    document_types.update_policy(
        session,
        factories.staff_context(session, org, StaffRole.BEHEERDER),
        "tax_assessment",
        document_types.form_input({"papier": "normal", "opschorten": "ja"}),
    )
    other = sent_document(session, org)
    other_request = _with_payment(session, other)
    citizen_files(session, other)
    assert other_request.status is PaymentRequestStatus.SUSPENDED


def test_a_dispute_does_not_suspend_a_payment_already_made(session: Session) -> None:
    org = factories.organisation(session)
    fine = sent_document(session, org, right=DisputeRight.GAS_APPEAL, document_type="gas_fine")
    request = _with_payment(session, fine)
    payments.record_payment(
        session,
        payment_request=request,
        amount_cents=12_550,
        method=PaymentMethod.BANK_TRANSFER,
        external_id="BE-1",
        received_at=utcnow(),
        actor=factories.SYSTEM,
    )
    citizen_files(session, fine)
    assert request.status is PaymentRequestStatus.PAID


# -- attachments -------------------------------------------------------------------------------


def test_an_executable_renamed_to_pdf_is_refused(session: Session) -> None:
    org = factories.organisation(session)
    document = sent_document(session, org)
    exe = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode"
    with pytest.raises(FieldErrors) as caught:
        citizen_files(session, document, uploads=[Upload("factuur.pdf", exe)])
    assert "geen PDF, JPEG of PNG" in caught.value.errors["bijlagen"]
    assert session.scalars(select(Dispute)).all() == []


def test_a_pdf_with_javascript_or_an_embedded_file_is_refused() -> None:
    assert len(attachments.check_uploads([Upload("leeg.pdf", raw_pdf(""))])) == 1
    for content in (
        pdf_with_javascript(),
        pdf_with_disguised_javascript(),
        pdf_with_launch_action(),
        pdf_with_embedded_file(),
    ):
        with pytest.raises(FieldErrors) as caught:
            attachments.check_uploads([Upload("bewijs.pdf", content)])
        assert "actieve inhoud" in caught.value.errors["bijlagen"]


def test_a_pdf_header_on_garbage_is_refused() -> None:
    with pytest.raises(FieldErrors) as caught:
        attachments.check_uploads([Upload("x.pdf", b"%PDF-1.7\nthis is no pdf at all")])
    assert "geen leesbare PDF" in caught.value.errors["bijlagen"]


def test_a_jpeg_header_on_garbage_is_refused() -> None:
    with pytest.raises(FieldErrors) as caught:
        attachments.check_uploads([Upload("foto.jpg", b"\xff\xd8\xff\xe0 not an image")])
    assert "geen geldige afbeelding" in caught.value.errors["bijlagen"]


def test_images_are_re_encoded_without_metadata_and_named_by_their_type() -> None:
    original = jpeg_with_exif()
    assert b"GeheimeSoftware" in original
    [checked] = attachments.check_uploads([Upload("C:\\Users\\jan\\foto.png", original)])
    assert checked.content_type == "image/jpeg"
    assert checked.file_name == "foto.jpg"
    assert b"GeheimeSoftware" not in checked.content
    assert Image.open(io.BytesIO(checked.content)).size == (40, 30)
    [png] = attachments.check_uploads([Upload("scan.png", png_bytes())])
    assert b"hidden payload" not in png.content


def test_size_and_count_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared import config

    limited = config.load_settings(
        dispute_attachment_max_bytes=2048, dispute_attachment_max_count=2
    )
    monkeypatch.setattr(attachments, "get_settings", lambda: limited)
    big = pdf_bytes("x" * 10) + b"%" + b"0" * 4096
    with pytest.raises(FieldErrors) as caught:
        attachments.check_uploads([Upload("groot.pdf", big)])
    assert "groter dan" in caught.value.errors["bijlagen"]
    small = pdf_bytes()
    with pytest.raises(FieldErrors) as caught:
        attachments.check_uploads([Upload(f"{i}.pdf", small) for i in range(3)])
    assert "ten hoogste 2" in caught.value.errors["bijlagen"]
    assert len(attachments.check_uploads([Upload("a.pdf", small), Upload("", b"")])) == 1


# -- the receipt ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[MailSink]:
    port = _free_port()
    monkeypatch.setenv("ZEGEL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ZEGEL_SMTP_PORT", str(port))
    monkeypatch.setenv("ZEGEL_SMTP_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("ZEGEL_PORTAL_BASE_URL", "https://mijn.testdorp.example")
    get_settings.cache_clear()
    with MailSink("127.0.0.1", port) as running:
        yield running
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_receipt_pdf_says_number_moment_grounds_and_files(session: Session) -> None:
    org = factories.organisation(session)
    document = sent_document(session, org)
    dispute = citizen_files(
        session,
        document,
        grounds="Ik woon er sinds 2019 zelf; zie bijlage.",
        hearing_requested=True,
        uploads=[Upload("bewijs.pdf", pdf_bytes())],
    ).dispute
    content = dispute_receipts.receipt_pdf(session, dispute)
    assert content.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert "Ontvangstbewijs van uw bezwaar" in text
    assert dispute.number in text
    assert dispute.received_at.astimezone(BRUSSELS).strftime("%H:%M") in text
    assert "Ik woon er sinds 2019 zelf" in text
    assert "bewijs.pdf" in text
    assert dispute.attachments[0].sha256 in text
    assert "Belastingen" in text
    assert dispute_receipts.file_name(dispute) == f"ontvangstbewijs-{dispute.number}.pdf"


def test_the_receipt_goes_by_e_mail_with_the_pdf_as_a_durable_job(
    session: Session, sink: MailSink
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    document = sent_document(session, org)
    dispute = citizen_files(session, document, contact_email="jan@example.org").dispute
    number, token = dispute.number, document.public_token
    session.commit()

    assert Worker("mailer").run_pending() == 1
    [mail] = sink.messages
    assert mail.recipients == ["jan@example.org"]
    assert mail.subject == f"Ontvangstbewijs van uw bezwaar {number}"
    assert "Gemeente Zegelbeek ontving op" in mail.text()
    assert f"https://mijn.testdorp.example/d/{token}" in mail.text()
    [attachment] = list(mail.message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"ontvangstbewijs-{number}.pdf"
    assert attachment.get_content().startswith(b"%PDF-")
    assert Worker("mailer").run_pending() == 0  # done once
    session.expire_all()
    sent = session.scalars(select(AuditEvent).where(AuditEvent.action == "mail.sent")).one()
    assert sent.object_id == str(dispute.id)


def test_without_an_e_mail_address_no_mail_is_queued(session: Session) -> None:
    org = factories.organisation(session)
    citizen_files(session, sent_document(session, org))
    assert session.scalars(select(Job)).all() == []


def test_the_receipt_pdf_is_the_same_bytes_every_time(session: Session) -> None:
    import time

    org = factories.organisation(session)
    dispute = citizen_files(session, sent_document(session, org)).dispute
    first = dispute_receipts.receipt_pdf(session, dispute)
    time.sleep(1.1)  # a creation date taken from the clock would differ now
    assert dispute_receipts.receipt_pdf(session, dispute) == first


# -- concurrency -------------------------------------------------------------------------------


def _file_in_own_transaction(document_id: uuid.UUID, grounds: str, key: str | None) -> str:
    with session_scope() as own:
        document = own.get(Document, document_id)
        assert document is not None
        filed = file_dispute(
            own,
            document,
            DisputeInput(grounds=grounds, submission_key=key),
            channel=DisputeChannel.PORTAL,
            actor=disputes.citizen_actor(document),
        )
        return filed.dispute.number


def _race(calls: list[tuple[uuid.UUID, str, str | None]]) -> list[str]:
    numbers: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(calls))

    def run(document_id: uuid.UUID, grounds: str, key: str | None) -> None:
        start.wait()
        try:
            numbers.append(_file_in_own_transaction(document_id, grounds, key))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return numbers


def test_disputes_filed_at_the_same_time_get_consecutive_numbers(session: Session) -> None:
    org = factories.organisation(session)
    ids = [sent_document(session, org).id for _ in range(6)]
    session.commit()
    numbers = _race([(i, f"Grond {n}", None) for n, i in enumerate(ids)])
    year = today().year
    assert sorted(numbers) == [f"B-{year}-{n:05d}" for n in range(1, 7)]


def test_the_same_form_submitted_twice_at_once_files_one_dispute(session: Session) -> None:
    org = factories.organisation(session)
    document_id = sent_document(session, org).id
    session.commit()
    numbers = _race([(document_id, f"Klik {n}", "z" * 32) for n in range(3)])
    assert len(set(numbers)) == 1
    session.expire_all()
    assert len(session.scalars(select(Dispute)).all()) == 1
    assert session.scalars(select(DisputeCounter)).one().last_sequence == 1


def test_an_organisation_changes_its_rules_audited_and_validated(session: Session) -> None:
    from shared.services.dispute_deadlines import (
        deadline_for,
        organisation_rules,
        set_organisation_rules,
    )

    org = factories.organisation(session)
    document = sent_document(
        session,
        org,
        right=DisputeRight.GAS_APPEAL,
        sent_on=date(2026, 3, 2),
        document_type="gas_fine",
    )
    set_organisation_rules(
        session, org.id, {"gas_appeal": {"months": 2, "legal_text": "Eigen tekst."}}, actor=STAFF
    )
    deadline = deadline_for(session, document)
    assert deadline is not None
    assert deadline.last_day == date(2026, 5, 4)  # 2 May 2026 is a Saturday
    assert deadline.legal_text == "Eigen tekst."
    document.dispute_legal_text = "Tekst van dit document."
    assert deadline_for(session, document).legal_text == "Tekst van dit document."  # type: ignore[union-attr]
    with pytest.raises(InvalidInput):
        set_organisation_rules(session, org.id, {"gas_appeal": {"months": "veel"}}, actor=STAFF)
    stored = {"gas_appeal": {"months": 2, "legal_text": "Eigen tekst."}}
    assert organisation_rules(session, org.id) == stored
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "organisation.dispute_rules_changed")
    ).one()
    assert event.data["after"] == stored
    set_organisation_rules(session, org.id, {}, actor=STAFF)
    assert organisation_rules(session, org.id) == {}
    assert session.scalars(select(DisputeRuleSet)).all() == []
