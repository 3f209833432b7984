"""The ontvangstbewijs of a dispute: what came in, when, under which number, and what follows.

The citizen downloads it from the portal, gets it by e-mail, or receives it printed at the
desk. It repeats what was submitted (grounds, request to be heard, contact details, the files
with their SHA-256), so the citizen holds proof of the content as well as of the moment.
This module is a leaf: plain values in, bytes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fpdf import FPDF

from shared.pdf.letters import FONTS


@dataclass(frozen=True)
class ReceiptFile:
    name: str
    size: str
    sha256: str


@dataclass(frozen=True)
class DisputeReceipt:
    organisation_name: str
    organisation_lines: list[str]
    """Address and contact details of the organisation."""
    number: str
    received_at: str
    """Date and time of receipt in Brussels, written out ("29 november 2026 om 15:12")."""
    channel: str
    document_title: str
    document_reference: str | None
    competent_service: str
    grounds: str
    hearing_requested: bool
    contact: list[str]
    files: list[ReceiptFile] = field(default_factory=list)
    postmark_date: str | None = None
    answer_due: str | None = None
    late_note: str | None = None
    issued_at: datetime | None = None
    """The PDF's creation date (the moment of receipt): the same dispute gives the same bytes."""


def _section(pdf: FPDF, title: str) -> None:
    pdf.ln(3)
    pdf.set_font("Liberation", "B", 11)
    pdf.cell(0, 6, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Liberation", "", 10)


def _row(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_font("Liberation", "B", 10)
    pdf.cell(55, 5.5, label)
    pdf.set_font("Liberation", "", 10)
    pdf.multi_cell(0, 5.5, value, new_x="LMARGIN", new_y="NEXT")


def render_dispute_receipt(receipt: DisputeReceipt) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(left=25, top=20, right=20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_font("Liberation", "", str(FONTS / "LiberationSans-Regular.ttf"))
    pdf.add_font("Liberation", "B", str(FONTS / "LiberationSans-Bold.ttf"))
    pdf.set_title(f"Ontvangstbewijs bezwaar {receipt.number}")
    pdf.set_author(receipt.organisation_name)
    pdf.set_creator("Zegel")
    pdf.set_lang("nl-BE")
    if receipt.issued_at is not None:
        pdf.set_creation_date(receipt.issued_at)
    pdf.add_page()

    pdf.set_font("Liberation", "B", 12)
    pdf.cell(0, 6, receipt.organisation_name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Liberation", "", 9)
    for line in receipt.organisation_lines:
        pdf.cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")

    pdf.ln(8)
    pdf.set_font("Liberation", "B", 16)
    pdf.cell(0, 9, "Ontvangstbewijs van uw bezwaar", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _row(pdf, "Dossiernummer", receipt.number)
    _row(pdf, "Ontvangen op", receipt.received_at)
    _row(pdf, "Ingediend via", receipt.channel)
    if receipt.postmark_date:
        _row(pdf, "Datum poststempel", receipt.postmark_date)
    _row(pdf, "Tegen", receipt.document_title)
    if receipt.document_reference:
        _row(pdf, "Kenmerk", receipt.document_reference)
    _row(pdf, "Behandeld door", receipt.competent_service)
    if receipt.answer_due:
        _row(pdf, "Beslissing uiterlijk", receipt.answer_due)
    _row(pdf, "Hoorzitting gevraagd", "ja" if receipt.hearing_requested else "nee")
    if receipt.contact:
        _row(pdf, "Contactgegevens", "\n".join(receipt.contact))
    if receipt.late_note:
        pdf.ln(2)
        pdf.set_font("Liberation", "B", 10)
        pdf.multi_cell(0, 5.5, receipt.late_note, new_x="LMARGIN", new_y="NEXT")

    _section(pdf, "Uw motivering")
    pdf.multi_cell(0, 5, receipt.grounds, new_x="LMARGIN", new_y="NEXT")

    _section(pdf, "Bijlagen")
    if not receipt.files:
        pdf.cell(0, 5.5, "Geen bijlagen.", new_x="LMARGIN", new_y="NEXT")
    for item in receipt.files:
        pdf.multi_cell(0, 5, f"{item.name} ({item.size})", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Liberation", "", 7.5)
        pdf.multi_cell(0, 4, f"SHA-256 {item.sha256}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Liberation", "", 10)

    pdf.ln(4)
    pdf.set_font("Liberation", "", 9)
    pdf.multi_cell(
        0,
        4.5,
        "Dit ontvangstbewijs bevestigt dat het bestuur uw bezwaar op het vermelde tijdstip"
        " ontving. Het zegt nog niets over de beslissing. Vermeld het dossiernummer als u contact"
        " opneemt.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
