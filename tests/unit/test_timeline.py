"""Audit events described in words for a document's timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.models import AuditEvent
from shared.services.timeline import describe


def _event(
    action: str, data: dict[str, object] | None = None, status_after: str | None = None
) -> AuditEvent:
    return AuditEvent(
        action=action,
        data=data or {},
        status_after=status_after,
        occurred_at=datetime(2026, 11, 29, 10, 0, tzinfo=UTC),
        actor_label="Koen Wouters",
    )


@pytest.mark.parametrize(
    ("action", "data", "status_after", "text", "tone"),
    [
        ("document.registered", {}, "draft", "Geregistreerd", "neutral"),
        (
            "signature_request.signed",
            {"capacity": "waarnemend burgemeester"},
            "signed",
            "Ondertekend als waarnemend burgemeester",
            "success",
        ),
        (
            "document.declined",
            {
                "declined_by": "Els Vermeulen",
                "capacity": "burgemeester",
                "reason": "Verkeerd bedrag",
            },
            "draft",
            "Teruggestuurd door Els Vermeulen (burgemeester): Verkeerd bedrag",
            "warning",
        ),
        (
            "document.signatures_validated",
            {"signatures": 2, "valid": 1},
            None,
            "Handtekeningen gecontroleerd: 1 van 2 geldig",
            "danger",
        ),
        ("document.dispatched", {}, "dispatched", "Verzonden", "neutral"),
        ("iets.onbekends", {}, None, "iets.onbekends", "neutral"),
    ],
)
def test_events_read_as_sentences(
    action: str, data: dict[str, object], status_after: str | None, text: str, tone: str
) -> None:
    entry = describe(_event(action, data, status_after))
    assert entry.text == text
    assert entry.tone == tone
    assert entry.actor == "Koen Wouters"
