"""Intake checks on a document's PDF: run before screening, because a signed PDF can no longer
be fixed.

Two kinds of findings:
- about the whole file (not a PDF, too large, encrypted, unreadable, too many pages): the file
  cannot be used at all and is refused (`is_fatal`); nothing is stored;
- about pages (not A4 portrait, fonts not embedded, ink in the address window or outside the
  printable area): the document is kept as a draft with its findings and a preview of each page
  concerned (`record_check`), so the secretariat sees what to fix and uploads a corrected file
  with `replace_pdf`. Screening runs the checks again and refuses while any remain.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db import utcnow
from shared.errors import InvalidInput
from shared.models.documents import Document, DocumentStatus
from shared.pdf.checks import Finding, PdfCheckResult, check_pdf
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


def is_fatal(result: PdfCheckResult) -> bool:
    """Whether the file cannot be used at all (a finding about the whole file, not a page)."""
    return any(finding.page is None for finding in result.findings)


def record_check(document: Document, sha256: str, result: PdfCheckResult) -> None:
    """Keep the check of the PDF `sha256` on the document; previews go to storage as PNG."""
    storage = get_storage()
    document.intake_check = {
        "sha256": sha256,
        "checked_at": utcnow().isoformat(),
        "findings": [
            {"page": f.page, "code": f.code, "message": f.message} for f in result.findings
        ],
        "previews": {str(page): storage.put(png) for page, png in sorted(result.previews.items())},
    }


def stored_findings(document: Document) -> list[Finding]:
    """The findings recorded for the document's current PDF (empty when none or unchecked)."""
    check: dict[str, Any] | None = document.intake_check
    if not check or check.get("sha256") != document.current_sha256:
        return []
    return [Finding(f["page"], f["code"], f["message"]) for f in check.get("findings", [])]


def stored_preview(document: Document, page: int) -> str | None:
    """The storage address of the recorded preview of `page` (with its problems outlined)."""
    check: dict[str, Any] | None = document.intake_check
    if not check or check.get("sha256") != document.current_sha256:
        return None
    found = check.get("previews", {}).get(str(page))
    return str(found) if found else None


def replace_pdf(
    session: Session,
    document: Document,
    content: bytes,
    *,
    file_name: str,
    actor: audit.Actor,
    for_paper: bool = True,
) -> PdfCheckResult:
    """Replace a draft's PDF with a corrected one.

    Raises PdfCheckFailed (changing nothing) when the new file cannot be used at all, and
    InvalidInput when the document is no draft. A file with findings on its pages replaces the
    old one and its findings are recorded: the document stays a draft until they are fixed.
    """
    if document.status is not DocumentStatus.DRAFT:
        raise InvalidInput("Alleen een document in ontwerp kan een nieuw PDF-bestand krijgen.")
    result = check_upload(content, for_paper=for_paper)
    if is_fatal(result):
        raise PdfCheckFailed(result)
    before = document.current_sha256
    sha256 = get_storage().put(content)
    document.original_sha256 = sha256
    document.current_sha256 = sha256
    document.file_name = file_name[-255:]
    document.page_count = result.page_count
    record_check(document, sha256, result)
    audit.record(
        session,
        actor=actor,
        organisation_id=document.organisation_id,
        action="document.pdf_replaced",
        object_type="document",
        object_id=document.id,
        data={
            "sha256_before": before,
            "sha256": sha256,
            "file_name": file_name,
            "findings": sorted(result.codes),
        },
    )
    return result
