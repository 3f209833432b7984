"""The cover page of a paper letter: address block, portal link as QR code, access code.

The signed PDF itself is never altered (that would break its signatures): the print shop puts
this page in front of it. The QR code carries only the portal link with its random token; the
short access code lets a citizen without a smartphone type it in at the portal.
This module is a leaf: plain values in, bytes out.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno
from fpdf import FPDF

from shared.pdf.letters import FONTS


@dataclass(frozen=True)
class CoverPayment:
    """How to pay by bank transfer: printed as text and as an EPC QR code ("BCD" payload)
    that banking apps scan. Values come formatted for print."""

    amount: str
    iban: str
    bic: str | None
    beneficiary: str
    structured_communication: str
    due_date: str
    epc_payload: str


@dataclass(frozen=True)
class CoverPage:
    sender_name: str
    recipient_name: str
    recipient_address: list[str]
    portal_url: str
    """The document's own link (QR code)."""
    code_url: str
    """Where the access code is typed in."""
    access_code: str
    register_number: str
    subject: str
    payment: CoverPayment | None = None


def render_cover_page(cover: CoverPage) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(left=25, top=20, right=20)
    pdf.set_auto_page_break(auto=False)
    pdf.add_font("Liberation", "", str(FONTS / "LiberationSans-Regular.ttf"))
    pdf.add_font("Liberation", "B", str(FONTS / "LiberationSans-Bold.ttf"))
    pdf.set_title(f"Voorblad {cover.register_number}")
    pdf.set_author(cover.sender_name)
    pdf.set_creator("Zegel")
    pdf.add_page()

    pdf.set_font("Liberation", "B", 12)
    pdf.cell(0, 6, cover.sender_name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Liberation", "", 9)
    pdf.cell(0, 4.5, f"Registernummer {cover.register_number}", new_x="LMARGIN", new_y="NEXT")

    pdf.set_xy(110, 50)  # the window of a DL envelope
    pdf.set_font("Liberation", "", 11)
    for line in [cover.recipient_name, *cover.recipient_address]:
        pdf.set_x(110)
        pdf.cell(80, 5.5, line, new_x="LMARGIN", new_y="NEXT")

    pdf.set_xy(25, 100)
    pdf.set_font("Liberation", "B", 13)
    pdf.multi_cell(0, 6.5, cover.subject, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Liberation", "", 10.5)
    pdf.multi_cell(
        0,
        5.5,
        "Bij dit voorblad hoort het ondertekende document. U kunt het ook digitaal bekijken,"
        " betalen of er bezwaar tegen indienen in het portaal: scan de QR-code, of surf naar"
        f" {cover.code_url} en geef deze code in:",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    pdf.set_font("Liberation", "B", 16)
    pdf.cell(0, 9, cover.access_code, new_x="LMARGIN", new_y="NEXT")

    _draw_qr(
        pdf, segno.make(cover.portal_url, error="m"), left=25.0, top=pdf.get_y() + 8, size=40.0
    )
    if cover.payment is not None:
        _payment_block(pdf, cover.payment)
    return bytes(pdf.output())


def _draw_qr(pdf: FPDF, qr: segno.QRCode, *, left: float, top: float, size: float) -> None:
    modules = qr.symbol_size(scale=1, border=0)[0]
    cell = size / modules
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(qr.matrix):
        for column_index, dark in enumerate(row):
            if dark:
                pdf.rect(left + column_index * cell, top + row_index * cell, cell, cell, style="F")


def _payment_block(pdf: FPDF, payment: CoverPayment) -> None:
    """Bottom of the page: the transfer's details on the left, the EPC QR code on the right
    (error correction M, as EPC069-12 prescribes; a quiet zone is left around it)."""
    top = 214.0
    pdf.set_draw_color(0, 0, 0)
    pdf.line(25, top - 4, 190, top - 4)
    pdf.set_xy(25, top)
    pdf.set_font("Liberation", "B", 12)
    pdf.cell(0, 6, "Betalen met een overschrijving", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    rows = [
        ("Bedrag", payment.amount),
        ("Rekeningnummer", payment.iban),
        *([("BIC", payment.bic)] if payment.bic else []),
        ("Begunstigde", payment.beneficiary),
        ("Mededeling", payment.structured_communication),
        ("Uiterlijk op", payment.due_date),
    ]
    for label, value in rows:
        pdf.set_x(25)
        pdf.set_font("Liberation", "", 10.5)
        pdf.cell(38, 6.5, label)
        pdf.set_font("Liberation", "B", 11 if label != "Mededeling" else 12)
        pdf.cell(85, 6.5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Liberation", "", 9)
    pdf.set_x(25)
    pdf.multi_cell(
        110,
        4.5,
        "Gebruik de gestructureerde mededeling: zo wordt uw betaling automatisch herkend."
        " Of scan de QR-code rechts met uw bankapp.",
    )
    qr = segno.make(payment.epc_payload, error="m", boost_error=False, micro=False)
    _draw_qr(pdf, qr, left=150.0, top=top + 2, size=38.0)
