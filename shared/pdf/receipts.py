"""A receipt (betalingsbewijs) for a payment made at the desk: an A5 page with an embedded font.

A leaf like the rest of `shared.pdf`: it takes plain, already translated values and returns bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF

from shared.pdf.letters import FONTS


@dataclass(frozen=True)
class Receipt:
    title: str
    organisation_name: str
    organisation_address: Sequence[str]
    rows: Sequence[tuple[str, str]]
    """(label, value) pairs: receipt number, date, amount, method, payer, reference, ..."""
    footer: str


def render_receipt(receipt: Receipt) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format=(148.0, 210.0))
    pdf.set_margins(left=15, top=15, right=15)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("Liberation", "", str(FONTS / "LiberationSans-Regular.ttf"))
    pdf.add_font("Liberation", "B", str(FONTS / "LiberationSans-Bold.ttf"))
    pdf.set_title(receipt.title)
    pdf.set_author(receipt.organisation_name)
    pdf.set_creator("Zegel")
    pdf.add_page()
    pdf.set_font("Liberation", "B", 12)
    pdf.cell(0, 6, receipt.organisation_name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Liberation", "", 9)
    for line in receipt.organisation_address:
        pdf.cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("Liberation", "B", 15)
    pdf.cell(0, 8, receipt.title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    label_width = 42.0
    for label, value in receipt.rows:
        pdf.set_font("Liberation", "", 10)
        pdf.cell(label_width, 6.5, label)
        pdf.set_font("Liberation", "B", 10)
        pdf.multi_cell(0, 6.5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Liberation", "", 8.5)
    pdf.multi_cell(0, 4.5, receipt.footer, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
