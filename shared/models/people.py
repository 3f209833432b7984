"""Organisations, their staff, and the recipients of outgoing documents."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, IdMixin, TimestampMixin, enum_column


class OrganisationKind(StrEnum):
    GEMEENTE = "gemeente"
    OCMW = "ocmw"
    INTERCOMMUNALE = "intercommunale"


class Organisation(IdMixin, TimestampMixin, Base):
    """A bestuur: a gemeente, its OCMW, or another local authority."""

    __tablename__ = "organisation"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganisationKind] = mapped_column(
        enum_column(OrganisationKind, "organisation_kind")
    )
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kbo_number: Mapped[str | None] = mapped_column(String(10))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisation.id"))
    iban: Mapped[str | None] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    street: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(200))
    accent_colour: Mapped[str] = mapped_column(String(7), default="#1d4f91")


class StaffRole(StrEnum):
    SECRETARIAAT = "secretariaat"
    ONDERTEKENAAR = "ondertekenaar"
    DOSSIERBEHANDELAAR = "dossierbehandelaar"
    ONTHAAL = "onthaal"
    FINANCIEN = "financien"
    BEHEERDER = "beheerder"


STAFF_ROLE_LABELS: dict[StaffRole, str] = {
    StaffRole.SECRETARIAAT: "Secretariaat",
    StaffRole.ONDERTEKENAAR: "Ondertekenaar",
    StaffRole.DOSSIERBEHANDELAAR: "Dossierbehandelaar",
    StaffRole.ONTHAAL: "Onthaal",
    StaffRole.FINANCIEN: "Financiën",
    StaffRole.BEHEERDER: "Beheerder",
}


class StaffUser(IdMixin, TimestampMixin, Base):
    """A member of staff, known by the (issuer, subject) of their OpenID Connect provider."""

    __tablename__ = "staff_user"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]

    roles: Mapped[list[StaffRoleAssignment]] = relationship(
        back_populates="staff_user", cascade="all, delete-orphan"
    )


class SignerFunction(StrEnum):
    """In which capacity an ondertekenaar signs (Decreet Lokaal Bestuur)."""

    BURGEMEESTER = "burgemeester"
    ALGEMEEN_DIRECTEUR = "algemeen_directeur"
    VOORZITTER_BCSD = "voorzitter_bcsd"
    FINANCIEEL_DIRECTEUR = "financieel_directeur"


SIGNER_FUNCTION_LABELS: dict[SignerFunction, str] = {
    SignerFunction.BURGEMEESTER: "burgemeester",
    SignerFunction.ALGEMEEN_DIRECTEUR: "algemeen directeur",
    SignerFunction.VOORZITTER_BCSD: "voorzitter van het bijzonder comité voor de sociale dienst",
    SignerFunction.FINANCIEEL_DIRECTEUR: "financieel directeur",
}


class StaffRoleAssignment(IdMixin, TimestampMixin, Base):
    """One role of one staff member in one organisation.

    Signers also carry the function they sign in and whether they stand in (waarnemend)
    or sign by delegation.
    """

    __tablename__ = "staff_role_assignment"
    __table_args__ = (UniqueConstraint("organisation_id", "staff_user_id", "role"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    staff_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"), index=True)
    role: Mapped[StaffRole] = mapped_column(enum_column(StaffRole, "staff_role"))
    signer_function: Mapped[SignerFunction | None] = mapped_column(
        enum_column(SignerFunction, "signer_function")
    )
    substitute: Mapped[bool] = mapped_column(default=False)
    absent: Mapped[bool] = mapped_column(default=False, server_default=false())
    """A titular signer marked absent by a beheerder: the substitutes are told about the work
    (anyone holding the function may still sign; the signature states their capacity)."""
    """Signs as stand-in (waarnemend) or by delegation for the signer_function."""
    delegation_reference: Mapped[str | None] = mapped_column(String(200))
    """For a substitute who signs by delegation: the delegation decision (e.g. its number and
    date), stated with the signature. Without it a substitute signs as 'waarnemend'."""

    staff_user: Mapped[StaffUser] = relationship(back_populates="roles")
    organisation: Mapped[Organisation] = relationship()


class RecipientKind(StrEnum):
    CITIZEN = "citizen"
    ENTERPRISE = "enterprise"
    POSTAL = "postal"
    """Known only by name and postal address."""


class EboxStatus(StrEnum):
    UNKNOWN = "unknown"
    ACTIVATED = "activated"
    NOT_ACTIVATED = "not_activated"


class Recipient(IdMixin, TimestampMixin, Base):
    """A burger (by national register number), an onderneming (by KBO number), or an address.

    The national register number is never stored in clear: `ssin_digest` (keyed HMAC) finds
    the recipient of a logged-in citizen; `ssin_sealed` (authenticated encryption) gives the
    number back to the MAGDA client. See `shared.protection`.
    """

    __tablename__ = "recipient"
    __table_args__ = (
        UniqueConstraint("organisation_id", "ssin_digest"),
        UniqueConstraint("organisation_id", "enterprise_number"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    kind: Mapped[RecipientKind] = mapped_column(enum_column(RecipientKind, "recipient_kind"))
    ssin_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    ssin_sealed: Mapped[str | None] = mapped_column(String(200))
    enterprise_number: Mapped[str | None] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="BE")
    email: Mapped[str | None] = mapped_column(String(254))
    ebox_status: Mapped[EboxStatus] = mapped_column(
        enum_column(EboxStatus, "ebox_status"), default=EboxStatus.UNKNOWN
    )
    ebox_checked_at: Mapped[datetime | None]
    ebox_source: Mapped[str | None] = mapped_column(String(100))
    """Where the eBox status was learnt (e.g. 'MAGDA citizenEboxConsents')."""
