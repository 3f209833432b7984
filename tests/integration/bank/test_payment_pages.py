"""The back office's Betalingen pages over HTTP: the list with filters, CSV and chart, a
request with its payments and timeline, the CAMT upload and review list, the desk with its
receipt, and who may see what."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from litestar.testing import TestClient
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.models import (
    AuditEvent,
    Payment,
    PaymentMethod,
    PaymentRequest,
    PaymentRequestStatus,
)
from shared.services import payments
from shared.timeutil import today
from shared.web import ZegelApp
from tests import factories
from tests.camt import Entry, statement
from tests.integration.bank.conftest import IBAN_A, World, login, payment_request

Client = TestClient[ZegelApp]


def _csrf(client: Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def _bank_payment(session: Session, request_id: object, cents: int, ref: str) -> None:
    request = session.get(PaymentRequest, request_id)
    assert request is not None
    payments.record_payment(
        session,
        payment_request=request,
        amount_cents=cents,
        method=PaymentMethod.BANK_TRANSFER,
        external_id=ref,
        received_at=utcnow() - timedelta(days=1),
        actor=factories.SYSTEM,
    )


def test_list_filters_csv_and_chart(session: Session, world: World, backoffice: Client) -> None:
    paid = payment_request(session, world.a, amount_cents=10000, name="Piet Betaald")
    late = payment_request(
        session, world.a, amount_cents=2000, name="Lien Laat", due=today() - timedelta(days=3)
    )
    payment_request(session, world.a, amount_cents=3000, name="Olga Open")
    payment_request(session, world.b, amount_cents=4000, name="Andere Gemeente")
    _bank_payment(session, paid.id, 10000, "BANK-1")
    login(session, backoffice, world.finance, world.a)
    session.commit()

    page = backoffice.get("/betalingen")
    assert page.status_code == 200
    assert "Piet Betaald" in page.text
    assert "Lien Laat" in page.text
    assert "Olga Open" in page.text
    assert "Andere Gemeente" not in page.text
    assert 'class="chart__svg"' in page.text
    assert "€\xa0100,00" in page.text  # the week's total in the table beside the chart

    dashboard = backoffice.get("/")
    assert "Na te kijken lijnen (0)" in dashboard.text
    assert "Te laat: 1" in dashboard.text

    overdue = backoffice.get("/betalingen", params={"status": "overdue"})
    assert "Lien Laat" in overdue.text
    assert "Olga Open" not in overdue.text
    assert late.status is PaymentRequestStatus.OPEN
    paid_only = backoffice.get("/betalingen", params={"status": "paid"})
    assert "Piet Betaald" in paid_only.text
    assert "Lien Laat" not in paid_only.text

    bad = backoffice.get("/betalingen", params={"status": "weg", "van": "gisteren"})
    assert bad.status_code == 200
    assert "Kies een status uit de lijst." in bad.text
    assert "Geef een datum als 2026-12-31." in bad.text

    export = backoffice.get("/betalingen/export.csv", params={"status": "paid"})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][0] == "Gestructureerde mededeling"
    assert [row[3] for row in rows[1:]] == ["Piet Betaald"]
    assert rows[1][4:6] == ["100,00", "100,00"]


def test_detail_shows_payments_and_timeline(
    session: Session, world: World, backoffice: Client
) -> None:
    request = payment_request(session, world.a, amount_cents=5000, name="Ann Tijdlijn")
    _bank_payment(session, request.id, 2000, "BANK-T1")
    other = payment_request(session, world.b, amount_cents=5000)
    login(session, backoffice, world.finance, world.a)
    session.commit()

    page = backoffice.get(f"/betalingen/{request.id}")
    assert page.status_code == 200
    assert "Ann Tijdlijn" in page.text
    assert "overschrijving" in page.text
    assert "Tijdlijn" in page.text
    assert "gedeeltelijk betaald" in page.text
    assert "€\xa030,00" in page.text  # still due
    assert backoffice.get(f"/betalingen/{other.id}").status_code == 404


def test_roles_guard_the_pages(session: Session, world: World, backoffice: Client) -> None:
    login(session, backoffice, world.clerk, world.a)
    session.commit()
    for path in ("/betalingen", "/betalingen/uittreksels", "/betalingen/na-te-kijken", "/balie"):
        assert backoffice.get(path).status_code == 403, path


def test_upload_match_review_assign_and_dismiss(
    session: Session, world: World, backoffice: Client
) -> None:
    matched = payment_request(session, world.a, amount_cents=12550, name="Mia Match")
    by_hand = payment_request(session, world.a, amount_cents=4000, name="Hans Hand")
    login(session, backoffice, world.finance, world.a)
    session.commit()
    content = statement(
        [
            Entry("M1", 12550, structured=matched.structured_communication, debtor="Mia Match"),
            Entry("U1", 4000, text="voor Hans", debtor="Hans Hand"),
            Entry("U2", 1234, text="onbekend"),
        ],
        iban=IBAN_A,
    )
    token = _csrf(backoffice, "/betalingen/uittreksels")
    response = backoffice.post(
        "/betalingen/uittreksels",
        files={"bestand": ("camt.xml", content, "application/xml")},
        data={"_csrf_token": token},
        follow_redirects=True,
    )
    assert response.status_code == 200, response.text
    assert "gekoppeld" in response.text
    assert "na te kijken" in response.text
    assert "Mia Match" in response.text

    again = backoffice.post(
        "/betalingen/uittreksels",
        files={"bestand": ("camt.xml", content, "application/xml")},
        data={"_csrf_token": token},
    )
    assert again.status_code == 409
    assert "al eerder ingelezen" in again.text

    broken = backoffice.post(
        "/betalingen/uittreksels",
        files={"bestand": ("camt.xml", b"<Document>", "application/xml")},
        data={"_csrf_token": token},
    )
    assert broken.status_code == 422
    assert "geen geldige XML" in broken.text

    review = backoffice.get("/betalingen/na-te-kijken")
    assert "U1" in review.text
    assert "U2" in review.text
    assert "M1" not in review.text
    links = re.findall(r'href="/betalingen/na-te-kijken/([0-9a-f-]{36})">(U\d)<', review.text)
    ids = {ref: line_id for line_id, ref in links}

    line_page = backoffice.get(f"/betalingen/na-te-kijken/{ids['U1']}")
    assert "Hans Hand" in line_page.text  # suggested: same amount, same name
    token = _csrf(backoffice, f"/betalingen/na-te-kijken/{ids['U1']}")
    missing = backoffice.post(
        f"/betalingen/na-te-kijken/{ids['U1']}/koppelen", data={"_csrf_token": token}
    )
    assert missing.status_code == 422
    assert "Kies het betaalverzoek" in missing.text
    assigned = backoffice.post(
        f"/betalingen/na-te-kijken/{ids['U1']}/koppelen",
        data={"_csrf_token": token, "betaalverzoek": str(by_hand.id), "opmerking": "naam"},
        follow_redirects=False,
    )
    assert assigned.status_code == 303
    empty_reason = backoffice.post(
        f"/betalingen/na-te-kijken/{ids['U2']}/afwijzen", data={"_csrf_token": token, "reden": ""}
    )
    assert empty_reason.status_code == 422
    dismissed = backoffice.post(
        f"/betalingen/na-te-kijken/{ids['U2']}/afwijzen",
        data={"_csrf_token": token, "reden": "geen betaling van een verzoek"},
        follow_redirects=False,
    )
    assert dismissed.status_code == 303
    assert "Er is niets na te kijken." in backoffice.get("/betalingen/na-te-kijken").text
    session.expire_all()
    assert matched.status is PaymentRequestStatus.PAID
    assert by_hand.status is PaymentRequestStatus.PAID


def test_desk_payment_with_receipt(session: Session, world: World, backoffice: Client) -> None:
    request = payment_request(session, world.a, amount_cents=5000, name="Dirk Balie")
    link = f"https://portaal.example/d/{request.document.public_token}"
    login(session, backoffice, world.desk, world.a)
    session.commit()

    found = backoffice.get("/balie", params={"zoek": request.structured_communication})
    assert "Dirk Balie" in found.text
    by_name = backoffice.get("/balie", params={"zoek": "dirk bal"})
    assert "Dirk Balie" in by_name.text
    # The letter's QR code, read by a barcode scanner, types its portal link.
    scanned = backoffice.get("/balie", params={"zoek": link})
    assert "Dirk Balie" in scanned.text
    assert "Dirk Balie" not in backoffice.get("/balie", params={"zoek": "+++"}).text
    form = backoffice.get(f"/balie/{request.id}")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
    receipt = re.search(r'name="ontvangstbewijs" value="([^"]+)"', form.text)
    assert token is not None
    assert receipt is not None
    data = {
        "_csrf_token": token.group(1),
        "ontvangstbewijs": receipt.group(1),
        "wijze": "cash",
        "bedrag": "20,00",
    }
    bad = backoffice.post(f"/balie/{request.id}", data={**data, "bedrag": "twintig"})
    assert bad.status_code == 422
    assert "Geef het bedrag in euro" in bad.text
    too_much_cash = backoffice.post(f"/balie/{request.id}", data={**data, "bedrag": "3500"})
    assert too_much_cash.status_code == 422
    no_method = backoffice.post(f"/balie/{request.id}", data={**data, "wijze": ""})
    assert no_method.status_code == 422
    done = backoffice.post(f"/balie/{request.id}", data=data, follow_redirects=False)
    assert done.status_code == 303
    twice = backoffice.post(
        f"/balie/{request.id}", data=data, follow_redirects=False
    )  # the same form again
    assert twice.status_code == 303
    assert twice.headers["location"] == done.headers["location"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Payment)) == 1
    assert request.status is PaymentRequestStatus.PARTIALLY_PAID
    session.rollback()

    confirmation = backoffice.get(done.headers["location"])
    assert receipt.group(1) in confirmation.text
    pdf = backoffice.get(done.headers["location"] + "/ontvangstbewijs.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert receipt.group(1) in text
    assert "20,00" in text
    assert "Dirk Balie" in text
    assert session.scalar(
        select(func.count()).where(
            AuditEvent.object_id == str(session.scalars(select(Payment.id)).one())
        )
    )

    request_id = request.id
    login(session, backoffice, world.finance_b, world.b)
    session.commit()
    assert backoffice.get(done.headers["location"] + "/ontvangstbewijs.pdf").status_code == 404
    assert backoffice.get(f"/balie/{request_id}").status_code == 404
