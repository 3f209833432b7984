"""What the secretariat sees of what it registered, and what it does with a draft.

- `decision_view`: a decision with its documents and how many findings each still has;
- `intake_view`: a document's intake findings per page, which pages have a preview, and for a
  draft the default screening rule of its type;
- `page_preview`: a PNG of one page (the recorded preview with the problems outlined in red,
  or a fresh rendering of a page without findings);
- `replace_document_pdf` and `screen`: the two actions on a draft, scoped to the organisation.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shared.errors import InvalidInput, NotFound
from shared.i18n import gettext
from shared.models.documents import Decision, Document, DocumentStatus
from shared.models.people import SIGNER_FUNCTION_LABELS, SignerFunction, StaffRole
from shared.pdf.checks import Finding, PdfCheckResult, render_preview
from shared.services import intake, screening
from shared.services.access import StaffContext, document_for_staff
from shared.storage import get_storage

_ = gettext

MAX_SIGNERS = 3
"""How many signers the screening form offers (the Decreet Lokaal Bestuur needs two)."""


@dataclass(frozen=True)
class PageFindings:
    page: int | None
    """None: about the whole file."""
    findings: list[Finding]
    has_preview: bool


@dataclass(frozen=True)
class IntakeView:
    checked: bool
    """Whether the current PDF was checked at intake (documents from before have no record)."""
    pages: list[PageFindings]
    preview_pages: list[int]
    """Pages to show as an image: those with findings, or the first page of a clean draft."""
    default_rule: screening.ScreeningRule | None
    can_replace: bool
    can_screen: bool

    @property
    def finding_count(self) -> int:
        return sum(len(page.findings) for page in self.pages)


def intake_view(document: Document) -> IntakeView:
    findings = intake.stored_findings(document)
    by_page: dict[int | None, list[Finding]] = {}
    for finding in findings:
        by_page.setdefault(finding.page, []).append(finding)
    pages = [
        PageFindings(
            page,
            items,
            has_preview=page is not None and intake.stored_preview(document, page) is not None,
        )
        for page, items in sorted(by_page.items(), key=lambda item: item[0] or 0)
    ]
    draft = document.status is DocumentStatus.DRAFT
    preview_pages = [p.page for p in pages if p.page is not None and p.has_preview]
    if not preview_pages and draft and (document.page_count or 0) >= 1:
        preview_pages = [1]
    return IntakeView(
        checked=document.intake_check is not None
        and document.intake_check.get("sha256") == document.current_sha256,
        pages=pages,
        preview_pages=preview_pages,
        default_rule=screening.default_rule(document.document_type),
        can_replace=draft,
        can_screen=draft and not findings,
    )


@dataclass(frozen=True)
class DecisionView:
    decision: Decision
    documents: list[tuple[Document, int | None]]
    """Each document with the number of intake findings it still has (None: not checked)."""


def decision_view(session: Session, context: StaffContext, decision_id: uuid.UUID) -> DecisionView:
    context.require(StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR)
    decision = session.scalars(
        select(Decision)
        .options(selectinload(Decision.documents).selectinload(Document.recipient))
        .where(Decision.id == decision_id, Decision.organisation_id == context.organisation_id)
    ).one_or_none()
    if decision is None:
        raise NotFound(_("Deze beslissing bestaat niet of hoort bij een ander bestuur."))
    documents = sorted(decision.documents, key=lambda d: (d.created_at, str(d.id)))
    return DecisionView(
        decision,
        [
            (
                document,
                len(intake.stored_findings(document)) if intake_view(document).checked else None,
            )
            for document in documents
        ],
    )


def page_preview(
    session: Session, context: StaffContext, document_id: uuid.UUID, page: int
) -> bytes:
    """A PNG of one page of the document's current PDF."""
    context.require(StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR, StaffRole.ONDERTEKENAAR)
    document = document_for_staff(session, context, document_id)
    storage = get_storage()
    stored = intake.stored_preview(document, page)
    if stored is not None:
        return storage.get(stored)
    if not 1 <= page <= (document.page_count or 0):
        raise NotFound(_("Deze pagina bestaat niet."))
    try:
        return render_preview(storage.get(document.current_sha256), page)
    except IndexError:
        raise NotFound(_("Deze pagina bestaat niet.")) from None


def replace_document_pdf(
    session: Session,
    context: StaffContext,
    document_id: uuid.UUID,
    content: bytes,
    *,
    file_name: str,
) -> PdfCheckResult:
    """Give a draft a corrected PDF (see `intake.replace_pdf`)."""
    context.require(StaffRole.SECRETARIAAT)
    document = document_for_staff(session, context, document_id)
    if not content:
        raise InvalidInput(_("Kies het verbeterde PDF-bestand."))
    return intake.replace_pdf(session, document, content, file_name=file_name, actor=context.actor)


def parse_override(signers: Sequence[str], reason: str) -> screening.ScreeningOverride:
    """The secretariat's own choice: signer functions in order ('' for an empty place)."""
    chosen: list[SignerFunction] = []
    for value in signers:
        if not value:
            continue
        try:
            chosen.append(SignerFunction(value))
        except ValueError:
            raise InvalidInput(_("Kies de ondertekenaars uit de lijst.")) from None
    if not reason.strip():
        raise InvalidInput(_("Geef een reden waarom u van de standaardregel afwijkt."))
    if len(set(chosen)) != len(chosen):
        raise InvalidInput(_("Elke functie kan maar één keer ondertekenen."))
    return screening.ScreeningOverride(tuple(chosen), reason.strip())


def screen(
    session: Session,
    context: StaffContext,
    document_id: uuid.UUID,
    override: screening.ScreeningOverride | None,
) -> screening.ScreeningDecision:
    """Screen a draft by its type's default rule, or by the secretariat's own choice."""
    context.require(StaffRole.SECRETARIAAT)
    document = document_for_staff(session, context, document_id)
    return screening.screen_document(session, document, actor=context.actor, override=override)


def signer_options() -> list[tuple[str, str]]:
    return [("", _("—"))] + [
        (function.value, label) for function, label in SIGNER_FUNCTION_LABELS.items()
    ]
