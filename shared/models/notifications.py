"""What Zegel remembers about the e-mails it sends to staff (see shared.services.notifications)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, IdMixin


class SignerNotification(IdMixin, Base):
    """Per signer and organisation: which digest e-mail is being gathered.

    Work that lands in the signer's signing folder queues the digest job of the current
    `digest_round`; the job moves the round on before it sends, so work that lands after that
    queues the next digest. The row is locked (SELECT … FOR UPDATE) on both sides."""

    __tablename__ = "signer_notification"
    __table_args__ = (UniqueConstraint("organisation_id", "staff_user_id"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    staff_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"), index=True)
    digest_round: Mapped[int] = mapped_column(default=0)
    last_digest_at: Mapped[datetime | None]
    """When the last digest was taken up for sending."""
    last_reminder_at: Mapped[datetime | None]
    """When the last reminder was sent."""
