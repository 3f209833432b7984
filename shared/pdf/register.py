"""A list of the register of outgoing mail as a PDF (A4 landscape, Liberation Sans embedded).

A leaf like the rest of `shared.pdf`: it takes plain, already translated values and returns bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF

from shared.pdf.letters import FONTS

COLUMN_WIDTHS = (28.0, 22.0, 28.0, 62.0, 107.0, 30.0)
"""Millimetres: number, sent, channel, recipient, document, status (277 mm = A4 landscape
between 10 mm margins)."""
LINE_HEIGHT = 6.0


@dataclass(frozen=True)
class RegisterPdfRow:
    number: str
    sent: str
    channel: str
    recipient: str
    document: str
    status: str


@dataclass(frozen=True)
class RegisterPdf:
    title: str
    organisation: str
    subtitle: str
    printed: str
    headers: Sequence[str]
    rows: Sequence[RegisterPdfRow]
    note: str
    page_label: str


class _Document(FPDF):
    def __init__(self, spec: RegisterPdf) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.spec = spec

    def header(self) -> None:
        self.set_font("Liberation", "B", 13)
        self.cell(
            0, 7, f"{self.spec.title} — {self.spec.organisation}", new_x="LMARGIN", new_y="NEXT"
        )
        self.set_font("Liberation", "", 8.5)
        self.cell(0, 4.5, self.spec.subtitle, new_x="LMARGIN", new_y="NEXT")
        self.cell(0, 4.5, self.spec.printed, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)
        self.set_font("Liberation", "B", 9)
        self.set_fill_color(232, 238, 247)
        for width, header in zip(COLUMN_WIDTHS, self.spec.headers, strict=True):
            self.cell(width, LINE_HEIGHT, header, border="B", fill=True)
        self.ln()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Liberation", "", 8)
        self.cell(0, 5, f"{self.spec.page_label} {self.page_no()}/{{nb}}", align="R")


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text`, cut with an ellipsis so that it fits in one cell of `width` mm."""
    room = width - 2 * pdf.c_margin
    if pdf.get_string_width(text) <= room:
        return text
    while text and pdf.get_string_width(text + "…") > room:
        text = text[:-1]
    return text + "…"


def render_register_pdf(spec: RegisterPdf) -> bytes:
    pdf = _Document(spec)
    pdf.add_font("Liberation", "", str(FONTS / "LiberationSans-Regular.ttf"))
    pdf.add_font("Liberation", "B", str(FONTS / "LiberationSans-Bold.ttf"))
    pdf.set_margins(left=10, top=10, right=10)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(f"{spec.title} — {spec.organisation}")
    pdf.set_author(spec.organisation)
    pdf.set_creator("Zegel")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("Liberation", "", 9)
    for row in spec.rows:
        values = (row.number, row.sent, row.channel, row.recipient, row.document, row.status)
        for width, value in zip(COLUMN_WIDTHS, values, strict=True):
            pdf.cell(width, LINE_HEIGHT, _fit(pdf, value, width), border="B")
        pdf.ln()
    pdf.ln(3)
    pdf.set_font("Liberation", "B", 9)
    pdf.multi_cell(0, 5, spec.note, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
