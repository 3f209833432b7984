"""The citizen's side of a dispute in the portal: the panel on the document page, the form with
its confirmation step, filing, and the receipt.

Every function finds the document through `access.document_for_citizen` (the citizen's
national register number digest and the document's public token), so another citizen's
document and one that does not exist give the same NotFound. Filing goes through
`disputes.file_dispute` with the channel `portal`.

**The form keeps everything.** The form's steps (fill in → check → submit) carry the typed
values back and forth; files that passed their checks are kept in storage and named by signed
tokens (`attachments.remember`, bound to the document and the form's submission key), so a
validation error, the confirmation step or "Wijzigen" never asks for a file again. A file that
fails its checks is not kept (its message says why); everything else stays.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from shared.errors import FieldErrors, InvalidInput
from shared.i18n import gettext as _
from shared.models.disputes import Dispute, DisputeChannel, DisputeStatus
from shared.models.documents import DisputeRight, Document
from shared.services import access, attachments, dispute_office, disputes
from shared.services.attachments import CheckedFile, Upload
from shared.services.dispute_deadlines import DisputeDeadline, deadline_for
from shared.services.disputes import DISPUTABLE, DisputeInput
from shared.timeutil import today

DECIDED = (DisputeStatus.DECIDED, DisputeStatus.CLOSED)


@dataclass(frozen=True)
class DisputePanel:
    """What the document page says about disputing it."""

    document: Document
    deadline: DisputeDeadline | None
    disputes: list[Dispute]
    today: date

    @property
    def has_right(self) -> bool:
        return self.deadline is not None and self.document.status in DISPUTABLE

    @property
    def is_open(self) -> bool:
        return self.has_right and self.deadline is not None and self.deadline.is_open(self.today)

    @property
    def passed(self) -> bool:
        return self.has_right and not self.is_open

    @property
    def decided(self) -> Dispute | None:
        """The latest dispute a decision was taken on: after it, the decision (and its appeal)
        is the way forward, not another dispute."""
        for dispute in reversed(self.disputes):
            if dispute.status in DECIDED:
                return dispute
        return None

    @property
    def pending(self) -> bool:
        """A dispute is still being handled."""
        return any(d.status in disputes.OPEN_STATUSES for d in self.disputes)

    @property
    def can_file(self) -> bool:
        """The portal offers (another) dispute: the deadline runs and none was decided yet."""
        return self.is_open and self.decided is None

    def status_of(self, dispute: Dispute) -> str:
        """Where a dispute stands, in the citizen's words."""
        if dispute.status in DECIDED and dispute.outcome is not None:
            return _("beslist: uw bezwaar is %(outcome)s") % {
                "outcome": dispute_office.outcome_label(dispute.outcome)
            }
        if dispute.status is DisputeStatus.WITHDRAWN:
            return _("het bezwaar werd ingetrokken")
        return _("in behandeling")


def panel(session: Session, document: Document) -> DisputePanel | None:
    """The dispute panel of a document the caller already found for the citizen; None when
    the document carries no dispute right."""
    if document.dispute_right is DisputeRight.NONE:
        return None
    return DisputePanel(
        document=document,
        deadline=deadline_for(session, document),
        disputes=disputes.disputes_of_document(session, document),
        today=today(),
    )


def panel_for_citizen(session: Session, ssin_digest: str, token: str) -> DisputePanel:
    """The panel for the form pages; NotFound when the document is not the citizen's, and
    InvalidInput when it cannot be disputed at all."""
    document = access.document_for_citizen(session, ssin_digest, token)
    found = panel(session, document)
    if found is None or not found.has_right:
        raise InvalidInput(_("Tegen dit document kunt u geen bezwaar indienen."))
    return found


@dataclass
class DisputeForm:
    """The form as the citizen filled it in (strings as typed)."""

    submission_key: str
    grounds: str = ""
    hearing_requested: bool = False
    email: str = ""
    phone: str = ""
    kept: list[tuple[str, CheckedFile]] = field(default_factory=list)
    """Files that passed their checks: (token, file)."""
    errors: dict[str, str] = field(default_factory=dict)


def _binding(document: Document, submission_key: str) -> str:
    return f"{document.id}:{submission_key}"


def read_form(
    document: Document,
    *,
    submission_key: str,
    grounds: str,
    hearing_requested: bool,
    email: str,
    phone: str,
    kept_tokens: Sequence[str],
    uploads: Sequence[Upload],
    drop: int | None = None,
) -> DisputeForm:
    """The form from the request: kept files recalled, new files checked (a failing file is
    named in `errors` and not kept), `drop`: index of a kept file the citizen removes."""
    if (
        not (8 <= len(submission_key) <= 64)
        or not submission_key.replace("-", "").replace("_", "").isalnum()
    ):
        submission_key = disputes.new_submission_key()
    form = DisputeForm(submission_key, grounds, hearing_requested, email.strip(), phone.strip())
    binding = _binding(document, submission_key)
    for token in kept_tokens:
        recalled = attachments.recall(token, binding)
        if recalled is not None and all(t != token for t, _f in form.kept):
            form.kept.append((token, recalled))
    if drop is not None and 0 <= drop < len(form.kept):
        del form.kept[drop]
    messages: list[str] = []
    for upload in (u for u in uploads if u.content or u.file_name):
        try:
            [checked] = attachments.check_uploads([upload], already=len(form.kept))
        except FieldErrors as error:  # keep the others, say what is wrong with this one
            if error.errors[attachments.FIELD] not in messages:
                messages.append(error.errors[attachments.FIELD])
            continue
        form.kept.append((attachments.remember(checked, binding), checked))
    if messages:
        form.errors[attachments.FIELD] = " ".join(messages)
    return form


def _input(form: DisputeForm) -> DisputeInput:
    return DisputeInput(
        grounds=form.grounds,
        hearing_requested=form.hearing_requested,
        contact_email=form.email,
        contact_phone=form.phone,
        files=[f for _t, f in form.kept],
        submission_key=form.submission_key,
    )


def check(found: DisputePanel, form: DisputeForm) -> DisputeForm:
    """The confirmation step: every field checked (errors gathered in `form.errors`), and the
    deadline (InvalidInput `dispute_late` once it passed)."""
    try:
        disputes.check_input(_input(form))
    except FieldErrors as error:
        form.errors.update(error.errors)
    if found.deadline is not None and not found.deadline.is_open(today()):
        raise InvalidInput(disputes.late_message(found.deadline), code="dispute_late")
    return form


def submit(session: Session, found: DisputePanel, form: DisputeForm) -> disputes.Filed:
    """File the dispute (a second submission of the same form returns the first)."""
    if form.errors:
        raise FieldErrors(form.errors)
    return disputes.file_dispute(
        session,
        found.document,
        _input(form),
        channel=DisputeChannel.PORTAL,
        actor=disputes.citizen_actor(found.document),
    )


def receipt(
    session: Session, ssin_digest: str, token: str, dispute_id: uuid.UUID
) -> tuple[Document, Dispute]:
    """A dispute of the citizen's document (NotFound for anything else)."""
    document = access.document_for_citizen(session, ssin_digest, token)
    return document, disputes.dispute_of_document(session, document, dispute_id)
