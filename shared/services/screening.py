"""Screening: does an outgoing document need signatures, by whom and in which order?

Each document type has a default rule (`SCREENING_RULES`, from the catalogue of document
types); the secretariat may override it for one document with a reason, which the audit
trail keeps together with the default it replaced. Screening first runs the intake checks
on the PDF (a signed PDF cannot be fixed), then moves the document draft → screened →
awaiting_signature (creating one signature request per signer, in order) or → ready when
no signature is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.errors import InvalidInput
from shared.models.documents import Document, DocumentStatus
from shared.models.people import SIGNER_FUNCTION_LABELS, SignerFunction
from shared.models.signing import SignatureRequest
from shared.pdf.checks import PdfCheckResult
from shared.services import audit, document_types, notifications, transitions
from shared.services.intake import PdfCheckFailed, check_document

DIRECTOR, MAYOR = SignerFunction.ALGEMEEN_DIRECTEUR, SignerFunction.BURGEMEESTER


@dataclass(frozen=True)
class ScreeningRule:
    signers: tuple[SignerFunction, ...]
    """In signing order; empty: no signature."""
    reason: str


SCREENING_RULES: dict[str, ScreeningRule] = {
    key: ScreeningRule(kind.signers, kind.screening_reason)
    for key, kind in document_types.CATALOGUE.items()
    if kind.signers is not None
}
"""Default screening per document type (from the catalogue, `shared.services.document_types`)."""


@dataclass(frozen=True)
class ScreeningOverride:
    """The secretariat's own decision for one document, instead of the default rule."""

    signers: Sequence[SignerFunction]
    """In signing order; empty: no signature."""
    reason: str


@dataclass(frozen=True)
class ScreeningDecision:
    signature_required: bool
    signers: tuple[SignerFunction, ...]
    reason: str
    overridden: bool
    check: PdfCheckResult


def default_rule(document_type: str) -> ScreeningRule | None:
    return SCREENING_RULES.get(document_type)


def _signers_text(signers: Sequence[SignerFunction]) -> list[str]:
    return [function.value for function in signers]


def screen_document(
    session: Session,
    document: Document,
    *,
    actor: audit.Actor,
    override: ScreeningOverride | None = None,
    for_paper: bool = True,
) -> ScreeningDecision:
    """Screen a draft, in the caller's transaction.

    Raises IllegalTransition when the document is not a draft, PdfCheckFailed (the document
    stays a draft) when its PDF does not pass the intake checks, and InvalidInput when there
    is no default rule for its type and no override, or the override is incomplete.
    """
    transitions.check(document, DocumentStatus.SCREENED)
    rule = default_rule(document.document_type)
    if override is not None:
        reason = override.reason.strip()
        if not reason:
            raise InvalidInput("Geef een reden op waarom u van de standaardregel afwijkt.")
        signers = tuple(override.signers)
        if len(set(signers)) != len(signers):
            raise InvalidInput("Elke functie kan maar één keer ondertekenen.")
    elif rule is not None:
        signers, reason = rule.signers, rule.reason
    else:
        raise InvalidInput(
            f"Voor documenten van het type ‘{document.document_type}’ is er geen standaardregel;"
            " kies zelf of en door wie het ondertekend moet worden."
        )

    check = check_document(document, for_paper=for_paper)
    if not check.ok:
        raise PdfCheckFailed(check)
    document.page_count = check.page_count

    document.signature_required = bool(signers)
    document.screening_reason = reason
    data: dict[str, object] = {
        "signature_required": bool(signers),
        "signers": _signers_text(signers),
        "reason": reason,
        "overridden": override is not None,
    }
    if override is not None:
        data["default_signers"] = _signers_text(rule.signers) if rule is not None else None
    transitions.transition(session, document, DocumentStatus.SCREENED, actor=actor, data=data)

    if not signers:
        transitions.transition(session, document, DocumentStatus.READY, actor=actor)
        return ScreeningDecision(False, (), reason, override is not None, check)

    previous_round = session.scalar(
        select(func.max(SignatureRequest.signing_round)).where(
            SignatureRequest.document_id == document.id
        )
    )
    signing_round = (previous_round or 0) + 1
    for position, function in enumerate(signers, start=1):
        session.add(
            SignatureRequest(
                organisation_id=document.organisation_id,
                document_id=document.id,
                signing_round=signing_round,
                position=position,
                signer_function=function,
            )
        )
    session.flush()
    transitions.transition(
        session,
        document,
        DocumentStatus.AWAITING_SIGNATURE,
        actor=actor,
        data={
            "signing_round": signing_round,
            "signers": [SIGNER_FUNCTION_LABELS[f] for f in signers],
        },
    )
    # The first signer's folder has work: queue their digest e-mail (one per signer per batch).
    notifications.signing_work_arrived(session, document.organisation_id, signers[:1])
    return ScreeningDecision(True, signers, reason, override is not None, check)
