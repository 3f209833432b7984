"""Intake checks on a document's PDF: run before screening, because a signed PDF can no longer
be fixed. A document whose PDF fails stays a draft; its findings (per page, with a preview)
say what to fix, and `replace_pdf` takes the corrected file."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.errors import InvalidInput
from shared.models.documents import Document, DocumentStatus
from shared.pdf.checks import PdfCheckResult, check_pdf
from shared.services import audit
from shared.storage import get_storage


class PdfCheckFailed(InvalidInput):
    """The PDF does not pass the intake checks; `result` has every finding and the previews."""

    code = "pdf_check_failed"

    def __init__(self, result: PdfCheckResult) -> None:
        super().__init__("Het PDF-bestand voldoet niet:\n" + result.summary())
        self.result = result


def check_upload(content: bytes, *, for_paper: bool = True) -> PdfCheckResult:
    """Check uploaded bytes against the configured limits. `for_paper` adds the layout checks
    for printing and window envelopes (on by default: any document may fall back to paper)."""
    settings = get_settings()
    return check_pdf(
        content,
        max_bytes=settings.pdf_max_bytes,
        max_pages=settings.pdf_max_pages,
        for_paper=for_paper,
    )


def check_document(document: Document, *, for_paper: bool = True) -> PdfCheckResult:
    """Check the document's current PDF."""
    return check_upload(get_storage().get(document.current_sha256), for_paper=for_paper)


def replace_pdf(
    session: Session,
    document: Document,
    content: bytes,
    *,
    file_name: str,
    actor: audit.Actor,
    for_paper: bool = True,
) -> PdfCheckResult:
    """Replace a draft's PDF with a corrected one. Raises PdfCheckFailed (changing nothing)
    when the new file does not pass the checks, InvalidInput when the document is no draft."""
    if document.status is not DocumentStatus.DRAFT:
        raise InvalidInput("Alleen een document in ontwerp kan een nieuw PDF-bestand krijgen.")
    result = check_upload(content, for_paper=for_paper)
    if not result.ok:
        raise PdfCheckFailed(result)
    before = document.current_sha256
    sha256 = get_storage().put(content)
    document.original_sha256 = sha256
    document.current_sha256 = sha256
    document.file_name = file_name
    document.page_count = result.page_count
    audit.record(
        session,
        actor=actor,
        organisation_id=document.organisation_id,
        action="document.pdf_replaced",
        object_type="document",
        object_id=document.id,
        data={"sha256_before": before, "sha256": sha256, "file_name": file_name},
    )
    return result
