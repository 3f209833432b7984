"""Issue 8's acceptance journeys in the back office, in Chromium:

(a) the competent service finds a citizen's dispute in its queue, decides "gegrond"; the
    answer letter is screened, signed by the director and the mayor and dispatched (the
    worker submits it); the dispute closes, the citizen sees the outcome in the portal and the
    payment request is cancelled;
(b) the front office finds a letter by scanning its QR code, registers a paper dispute with a
    scan and a date of receipt in the past; it joins the same queue, and the deadline check
    used the date of receipt (on time, although the term has passed today).

Every new page is checked with axe-core and photographed."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.integrations.magda import testdata
from shared.integrations.oidc.identities import citizen, staff_member
from shared.models import (
    Dispute,
    DisputeChannel,
    DisputeRight,
    DisputeStatus,
    Document,
    DocumentStatus,
    EboxStatus,
    Organisation,
    PaymentRequest,
    PaymentRequestStatus,
    Recipient,
    RecipientKind,
    SignerFunction,
    StaffRole,
)
from shared.protection import seal, ssin_digest
from shared.services import disputes
from shared.services.dispute_deadlines import deadline_for
from shared.storage import get_storage
from shared.timeutil import today, utcnow
from tests import factories
from tests.e2e.browser import Console, assert_accessible, screenshot
from tests.e2e.conftest import Sandbox
from tests.e2e.test_signing_journey import _wait_for_mail, log_in, log_out, sign_in_folder
from tests.integration.signing.conftest import letter_pdf

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

AN = citizen("an-janssens")
TITLE = "Belasting op tweede verblijven 2026"
STAFF = (
    ("dossierbehandelaar", [StaffRole.DOSSIERBEHANDELAAR], None),
    ("secretariaat", [StaffRole.SECRETARIAAT], None),
    ("directeur", [StaffRole.ONDERTEKENAAR], SignerFunction.ALGEMEEN_DIRECTEUR),
    ("burgemeester", [StaffRole.ONDERTEKENAAR], SignerFunction.BURGEMEESTER),
    ("onthaal", [StaffRole.ONTHAAL], None),
)


def _world(session: Session, sandbox: Sandbox, *, sent_days_ago: int) -> Document:
    """Gemeente Zegelbeek with its staff, and a tax assessment sent to An Janssens (eBox)
    with a payment request."""
    org: Organisation = factories.organisation(session, "Gemeente Zegelbeek")
    org.street, org.postal_code, org.city = "Marktplein 1", "9999", "Zegelbeek"
    for subject, roles, function in STAFF:
        identity = staff_member(subject)
        factories.staff_member(
            session,
            org,
            roles,
            subject=subject,
            issuer=sandbox.url + "/oidc",
            name=identity.name,
            email=identity.email,
            signer_function=function,
        )
    person = testdata.person_by_key("an-janssens")
    assert person.address is not None
    recipient = Recipient(
        organisation_id=org.id,
        kind=RecipientKind.CITIZEN,
        ssin_digest=ssin_digest(person.ssin),
        ssin_sealed=seal(person.ssin),
        name=person.name,
        street=person.address.street_line,
        postal_code=person.address.postal_code,
        city=person.address.municipality,
        ebox_status=EboxStatus.ACTIVATED,
        ebox_checked_at=utcnow(),
        ebox_source="test",
    )
    session.add(recipient)
    session.flush()
    document = factories.document(session, org, recipient, title=TITLE)
    document.document_type = "tax_assessment"
    document.dispute_right = DisputeRight.MUNICIPAL_TAX_OBJECTION
    document.amount_due_cents = 12_550
    document.current_sha256 = get_storage().put(letter_pdf(TITLE))
    factories.send(session, document)
    document.sent_at = utcnow() - timedelta(days=sent_days_ago)
    document.legal_sending_date = today() - timedelta(days=sent_days_ago)
    session.add(
        PaymentRequest(
            organisation_id=org.id,
            document_id=document.id,
            amount_cents=12_550,
            due_date=today() + timedelta(days=30),
            structured_communication="123456789002",
            iban="BE71096123456769",
            status=PaymentRequestStatus.SUSPENDED,  # suspended while the dispute runs
        )
    )
    session.flush()
    return document


def _check(page: Page, name: str) -> None:
    screenshot(page, name)
    assert_accessible(page)


def test_the_competent_service_decides_founded_and_the_answer_closes_the_loop(
    page: Page,
    page_console: Console,
    session: Session,
    backoffice_url: str,
    portal_url: str,
    sandbox: Sandbox,
) -> None:
    document = _world(session, sandbox, sent_days_ago=10)
    filed = disputes.file_dispute(
        session,
        document,
        disputes.DisputeInput(
            grounds="Dit is mijn hoofdverblijf sinds 2019; zie mijn inschrijving.",
            hearing_requested=True,
        ),
        channel=DisputeChannel.PORTAL,
        actor=disputes.citizen_actor(document),
    ).dispute
    number, dispute_id, token = filed.number, filed.id, document.public_token
    session.commit()

    # The case handler of the tax service finds it in the queue.
    log_in(page, backoffice_url, "dossierbehandelaar")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Bezwaren").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bezwaren")
    page.get_by_role("navigation", name="Bevoegde diensten").get_by_role(
        "link", name=re.compile("^Belastingen")
    ).click()
    expect(page.get_by_role("table")).to_contain_text(number)
    _check(page, "disputes-queue")
    page.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Bezwaar {number}")
    expect(page.get_by_text("Dit is mijn hoofdverblijf sinds 2019")).to_be_visible()
    _check(page, "dispute-received")

    page.get_by_role("button", name="In behandeling nemen").click()
    expect(page.get_by_role("status")).to_contain_text("Het bezwaar is in behandeling.")
    page.get_by_label("Nieuwe notitie").fill("Bevolkingsregister nagekeken: klopt.")
    page.get_by_role("button", name="Notitie bewaren").click()
    expect(page.get_by_text("Bevolkingsregister nagekeken: klopt.")).to_be_visible()

    # A decision without motivation is refused; what was chosen stays.
    page.get_by_label("gegrond", exact=True).check()
    page.get_by_role("button", name="Beslissing registreren").click()
    expect(page.get_by_role("alert")).to_contain_text("Geef de motivering van de beslissing")
    _check(page, "dispute-decide-error")
    expect(page.get_by_label("gegrond", exact=True)).to_be_checked()
    page.get_by_label("Motivering").fill(
        "Uit het bevolkingsregister blijkt dat de woning uw hoofdverblijf is."
    )
    page.get_by_role("button", name="Beslissing registreren").click()
    expect(page.get_by_role("status")).to_contain_text("De beslissing is geregistreerd.")
    _check(page, "dispute-decided")
    answer_title = f"Beslissing over uw bezwaar {number}"
    expect(page.get_by_role("link", name=answer_title)).to_be_visible()
    log_out(page)

    # The answer goes through screening, signing and dispatch like any other document.
    session.expire_all()
    answer_id = session.scalars(
        select(Dispute.answer_document_id).where(Dispute.id == dispute_id)
    ).one()
    session.rollback()
    log_in(page, backoffice_url, "secretariaat")
    page.goto(f"{backoffice_url}/stukken/{answer_id}")
    page.get_by_role("button", name="Screenen").click()
    expect(page.get_by_text("wacht op handtekening").first).to_be_visible()
    log_out(page)
    # Each signer signs once their digest e-mail says the folder holds the answer.
    assert _wait_for_mail(sandbox, staff_member("directeur").email)
    log_in(page, backoffice_url, "directeur")
    sign_in_folder(
        page, choose="all", expected_capacity="algemeen directeur", titles=[answer_title]
    )
    log_out(page)
    assert _wait_for_mail(sandbox, staff_member("burgemeester").email)
    log_in(page, backoffice_url, "burgemeester")
    sign_in_folder(page, choose="all", expected_capacity="burgemeester", titles=[answer_title])
    log_out(page)

    log_in(page, backoffice_url, "dossierbehandelaar")
    page.goto(f"{backoffice_url}/stukken/{answer_id}")
    page.get_by_role("button", name="Verzenden", exact=True).click()
    expect(page.get_by_text("Alles is vertrokken")).to_be_visible(timeout=30_000)
    page.goto(f"{backoffice_url}/bezwaren/{dispute_id}")
    expect(page.get_by_text("afgehandeld").first).to_be_visible()
    _check(page, "dispute-closed")

    session.expire_all()
    closed = session.get(Dispute, dispute_id)
    answer = session.get(Document, answer_id)
    payment = session.scalars(
        select(PaymentRequest).where(PaymentRequest.document_id == document.id)
    ).one()
    assert closed is not None
    assert answer is not None
    assert closed.status is DisputeStatus.CLOSED
    assert answer.status in (DocumentStatus.DISPATCHED, DocumentStatus.DELIVERED)
    assert payment.status is PaymentRequestStatus.CANCELLED
    session.rollback()

    # The citizen sees the outcome in the portal.
    page.goto(f"{portal_url}/d/{token}")
    form = page.locator("form").filter(has=page.get_by_role("heading", name=AN.name, exact=True))
    form.get_by_label("itsme", exact=False).check()
    form.get_by_role("button", name=f"Aanmelden als {AN.name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(
        page.get_by_text("Beslissing over uw bezwaar verstuurd: uw bezwaar is gegrond")
    ).to_be_visible()
    expect(page.get_by_text("Betaling geannuleerd")).to_be_visible()
    _check(page, "dispute-citizen-outcome")
    assert [e for e in page_console.errors if "status of 422" not in e] == []
    assert page_console.csp_violations == []

    sandbox.mail.clear()  # the package's mail sink, for the next journeys


def _scan() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 800), (245, 245, 240)).save(out, format="PNG")
    return out.getvalue()


def test_the_front_office_registers_a_paper_dispute_received_in_the_past(
    page: Page,
    page_console: Console,
    session: Session,
    backoffice_url: str,
    portal_url: str,
    sandbox: Sandbox,
) -> None:
    document = _world(session, sandbox, sent_days_ago=130)
    deadline = deadline_for(session, document)
    assert deadline is not None
    assert deadline.last_day is not None
    assert deadline.last_day < today(), "today the term has passed"
    received_on = deadline.last_day - timedelta(days=1)  # but the letter came in on time
    token = document.public_token
    session.commit()

    log_in(page, backoffice_url, "onthaal")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Onthaal").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Een stuk zoeken")
    _check(page, "front-office-search")
    # The barcode scanner types the portal link from the letter's QR code, then Enter.
    field = page.get_by_label("Registernummer, gestructureerde mededeling")
    expect(field).to_be_focused()
    field.fill(f"{portal_url}/d/{token}")
    field.press("Enter")
    expect(page.get_by_role("table")).to_contain_text("1 stuk gevonden")
    expect(page.get_by_role("table")).to_contain_text("QR-code van de brief")
    _check(page, "front-office-found")
    page.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_text("termijn verstreken")).to_be_visible()

    page.get_by_label("per post").check()
    page.get_by_label("Datum van ontvangst").fill(received_on.isoformat())
    page.get_by_label("Gronden van het bezwaar").fill(
        "Ik woon in deze woning sinds 2019; het is geen tweede verblijf."
    )
    # A program renamed to .png is refused by its content; what was typed stays.
    page.get_by_label("Scan van de brief").set_input_files(
        {"name": "brief-bezwaar.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00 program"}
    )
    page.get_by_role("button", name="Bezwaar registreren").click()
    expect(page.get_by_role("alert")).to_contain_text("is geen PDF, JPEG of PNG")
    expect(page.get_by_label("Gronden van het bezwaar")).to_have_value(
        "Ik woon in deze woning sinds 2019; het is geen tweede verblijf."
    )
    expect(page.get_by_label("Datum van ontvangst")).to_have_value(received_on.isoformat())
    _check(page, "front-office-register-error")
    page.get_by_label("Scan van de brief").set_input_files(
        {"name": "brief-bezwaar.png", "mimeType": "image/png", "buffer": _scan()}
    )
    page.get_by_role("button", name="Bezwaar registreren").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("geregistreerd")
    expect(page.get_by_text("Binnen de termijn")).to_be_visible()
    _check(page, "front-office-registered")
    receipt_link = page.get_by_role("link", name="Ontvangstbewijs afdrukken (PDF)")
    receipt = page.request.get(backoffice_url + (receipt_link.get_attribute("href") or ""))
    assert receipt.status == 200
    assert receipt.body().startswith(b"%PDF-")
    log_out(page)

    session.expire_all()
    filed = session.scalars(select(Dispute).where(Dispute.document_id == document.id)).one()
    number = filed.number
    assert filed.channel is DisputeChannel.POST
    assert filed.late is False
    assert filed.received_at.date() <= received_on + timedelta(days=1)
    assert len(filed.attachments) == 1
    session.rollback()

    # It joins the same queue as online disputes.
    log_in(page, backoffice_url, "dossierbehandelaar")
    page.goto(f"{backoffice_url}/bezwaren?dienst=belastingen")
    row = page.get_by_role("row").filter(has_text=number)
    expect(row).to_contain_text("per post")
    expect(row).not_to_contain_text("laattijdig")
    page.get_by_role("link", name=number).click()
    expect(page.get_by_text("Ik woon in deze woning sinds 2019")).to_be_visible()
    expect(page.get_by_text("brief-bezwaar.png")).to_be_visible()
    _check(page, "dispute-paper-in-queue")

    page.goto(f"{backoffice_url}/bezwaren/rapport")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rapport bezwaren")
    _check(page, "dispute-report")
    assert [e for e in page_console.errors if "status of 422" not in e] == []
    assert page_console.csp_violations == []
