"""Render simple A4 letters to PDF with an embedded font (Liberation Sans, SIL OFL).

Used for demo data now and for generated letters (reminders, receipts, dispute answers) later.
This module is a leaf: it takes plain values and returns bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF

FONTS = Path(__file__).parent / "fonts"


@dataclass(frozen=True)
class Letter:
    sender_name: str
    sender_address: list[str]
    recipient_name: str
    recipient_address: list[str]
    place_and_date: str
    subject: str
    paragraphs: list[str]
    reference: str | None = None
    signatories: list[str] = field(default_factory=list)
    qr_png: bytes | None = None
    """A QR code to print after the text (e.g. the EPC 'BCD' transfer code), 35 mm wide."""
    qr_caption: str | None = None


def render_letter(letter: Letter) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(left=25, top=20, right=20)
    # Text stays above the signature area (12–32 mm from the bottom, see shared.pdf.signing).
    pdf.set_auto_page_break(auto=True, margin=40)
    pdf.add_font("Liberation", "", str(FONTS / "LiberationSans-Regular.ttf"))
    pdf.add_font("Liberation", "B", str(FONTS / "LiberationSans-Bold.ttf"))
    pdf.set_title(letter.subject)
    pdf.set_author(letter.sender_name)
    pdf.set_creator("Zegel")
    pdf.add_page()

    pdf.set_font("Liberation", "B", 12)
    pdf.cell(0, 6, letter.sender_name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Liberation", "", 9)
    for line in letter.sender_address:
        pdf.cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")

    # Address block where a DL window envelope shows it (right-hand window, ~50 mm from the top).
    pdf.set_xy(110, 50)
    pdf.set_font("Liberation", "", 11)
    for line in [letter.recipient_name, *letter.recipient_address]:
        pdf.set_x(110)
        pdf.cell(80, 5.5, line, new_x="LMARGIN", new_y="NEXT")

    pdf.set_xy(25, 95)
    pdf.set_font("Liberation", "", 10)
    pdf.cell(0, 5, letter.place_and_date, new_x="LMARGIN", new_y="NEXT")
    if letter.reference:
        pdf.cell(0, 5, f"Ons kenmerk: {letter.reference}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Liberation", "B", 11)
    pdf.multi_cell(0, 6, letter.subject, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Liberation", "", 10.5)
    for paragraph in letter.paragraphs:
        pdf.multi_cell(0, 5.5, paragraph, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    if letter.qr_png:
        pdf.ln(2)
        top = pdf.get_y()
        pdf.image(io.BytesIO(letter.qr_png), x=pdf.l_margin, y=top, w=35, h=35)
        if letter.qr_caption:
            pdf.set_xy(pdf.l_margin + 40, top + 2)
            pdf.set_font("Liberation", "", 9)
            pdf.multi_cell(100, 4.5, letter.qr_caption, new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(top + 38)
    if letter.signatories:
        pdf.ln(12)
        width = (pdf.w - pdf.l_margin - pdf.r_margin) / len(letter.signatories)
        for name in letter.signatories:
            pdf.cell(width, 5, name)
        pdf.ln()
    return bytes(pdf.output())
