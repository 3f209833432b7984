"""Typed requests and results of the MAGDA services, and their JSON shape on the wire.

The JSON field names follow the REST protocol the client and the sandbox share (camelCase);
Python names are snake_case. Times are ISO 8601 with a zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

EboxType = Literal["citizen", "enterprise"]
ChannelName = Literal["EBOX", "PAPER"]
DeliveryMethod = Literal["normal", "registered"]

# Event types the Documentendienst and bpost report, in the order they usually happen.
SUBMITTED = "SUBMITTED"
DELIVERED_TO_EBOX = "DELIVERED_TO_EBOX"
READ = "READ"
PRINTED = "PRINTED"
POSTED = "POSTED"
DELIVERED = "DELIVERED"
RETURNED = "RETURNED"
FAILED = "FAILED"
EVENT_TYPES = (SUBMITTED, DELIVERED_TO_EBOX, READ, PRINTED, POSTED, DELIVERED, RETURNED, FAILED)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


@dataclass(frozen=True)
class Address:
    street: str
    house_number: str
    postal_code: str
    municipality: str
    box: str | None = None
    country_code: str = "BE"

    @property
    def street_line(self) -> str:
        line = f"{self.street} {self.house_number}".strip()
        return f"{line} bus {self.box}" if self.box else line

    def to_json(self) -> dict[str, Any]:
        return {
            "street": self.street,
            "houseNumber": self.house_number,
            "box": self.box,
            "postalCode": self.postal_code,
            "municipality": self.municipality,
            "countryCode": self.country_code,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Address | None:
        if not data:
            return None
        return cls(
            street=str(data.get("street") or ""),
            house_number=str(data.get("houseNumber") or ""),
            box=data.get("box") or None,
            postal_code=str(data.get("postalCode") or ""),
            municipality=str(data.get("municipality") or ""),
            country_code=str(data.get("countryCode") or "BE"),
        )


@dataclass(frozen=True)
class Person:
    """What the national register says about one person (GeefPersoon)."""

    ssin: str
    given_name: str
    family_name: str
    address: Address | None
    """The official (main) address; None when the person has none (e.g. struck off)."""
    deceased: bool = False

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


@dataclass(frozen=True)
class CitizenConsent:
    """Whether the citizen activated the eBox (consent to receive documents there)."""

    ssin: str
    ebox_activated: bool
    since: datetime | None


@dataclass(frozen=True)
class EnterprisePreferences:
    """An enterprise's eBox preferences (enterprises are reached through the eBox only)."""

    enterprise_number: str
    name: str
    ebox_activated: bool
    address: Address | None


@dataclass(frozen=True)
class MessageRecipient:
    """An eBox (citizen by INSZ, enterprise by KBO number), or a name and postal address."""

    name: str
    ebox_type: EboxType | None = None
    ssin: str | None = None
    enterprise_number: str | None = None
    postal_address: Address | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.ebox_type is not None:
            data["eboxType"] = self.ebox_type
        if self.ssin is not None:
            data["ssin"] = self.ssin
        if self.enterprise_number is not None:
            data["enterpriseNumber"] = self.enterprise_number
        if self.postal_address is not None:
            data["postalAddress"] = self.postal_address.to_json()
        return data


@dataclass(frozen=True)
class Attachment:
    file_name: str
    content: bytes
    media_type: str = "application/pdf"


@dataclass(frozen=True)
class OutgoingMessage:
    """One message for the Documentendienst: the JSON part plus its attachments."""

    reference: str
    """The sender's reference (Zegel's register number)."""
    subject_nl: str
    channel: ChannelName
    delivery_method: DeliveryMethod
    recipient: MessageRecipient
    attachments: tuple[Attachment, ...]
    body_nl: str = ""
    portal_url: str | None = None
    """The link to the document in the portal (carries no personal data)."""
    acknowledgement_of_receipt: bool = False
    sender_organisation: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "sender": {"name": self.sender_organisation},
            "recipient": self.recipient.to_json(),
            "channel": self.channel,
            "deliveryMethod": self.delivery_method,
            "acknowledgementOfReceipt": self.acknowledgement_of_receipt,
            "subject": {"nl": self.subject_nl},
            "body": {"nl": self.body_nl},
            "portalUrl": self.portal_url,
            "attachments": [
                {"fileName": a.file_name, "mediaType": a.media_type} for a in self.attachments
            ],
        }


@dataclass(frozen=True)
class SubmittedMessage:
    message_id: str
    status: str
    submitted_at: datetime
    correlation_id: str
    replayed: bool = False
    """The Documentendienst had this Idempotency-Key already and returned its first answer."""


@dataclass(frozen=True)
class MessageEvent:
    event_id: str
    type: str
    occurred_at: datetime
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessageEvent:
        occurred = _time(data.get("occurredAt"))
        if occurred is None:
            raise ValueError("event without occurredAt")
        return cls(
            event_id=str(data["id"]),
            type=str(data["type"]),
            occurred_at=occurred,
            detail=dict(data.get("detail") or {}),
        )


@dataclass(frozen=True)
class MessageStatus:
    message_id: str
    status: str
    events: tuple[MessageEvent, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessageStatus:
        return cls(
            message_id=str(data["messageId"]),
            status=str(data["status"]),
            events=tuple(MessageEvent.from_json(e) for e in data.get("events") or []),
        )


@dataclass(frozen=True)
class BpostStatus:
    """The track and trace of a registered letter."""

    message_id: str
    barcode: str
    status: str
    events: tuple[MessageEvent, ...]
    attestation_available: bool
