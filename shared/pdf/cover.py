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

    qr = segno.make(cover.portal_url, error="m")
    size = 40.0
    modules = qr.symbol_size(scale=1, border=0)[0]
    cell = size / modules
    top, left = pdf.get_y() + 8, 25.0
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(qr.matrix):
        for column_index, dark in enumerate(row):
            if dark:
                pdf.rect(left + column_index * cell, top + row_index * cell, cell, cell, style="F")
    return bytes(pdf.output())
