from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from shared.errors import IllegalTransition
from shared.models import (
    DISPATCH_STATES,
    DISPUTE_STATES,
    DOCUMENT_STATES,
    PAYMENT_REQUEST_STATES,
    PAYMENT_STATES,
    SIGNATURE_STATES,
    DocumentStatus,
)
from shared.models.states import StateMachine
from shared.services.transitions import check

ALL = [
    DOCUMENT_STATES,
    SIGNATURE_STATES,
    DISPATCH_STATES,
    PAYMENT_REQUEST_STATES,
    PAYMENT_STATES,
    DISPUTE_STATES,
]


@pytest.mark.parametrize("machine", ALL, ids=lambda m: m.name)
def test_every_status_has_a_dutch_label_and_every_target_is_a_known_status(
    machine: StateMachine,  # type: ignore[type-arg]
) -> None:
    statuses = set(machine.labels)
    for source, targets in machine.transitions.items():
        assert source in statuses
        assert targets <= statuses
    enum = type(next(iter(statuses)))
    assert statuses == set(enum), "every status needs a label"


def test_document_happy_path_is_allowed() -> None:
    path = [
        DocumentStatus.DRAFT,
        DocumentStatus.SCREENED,
        DocumentStatus.AWAITING_SIGNATURE,
        DocumentStatus.SIGNED,
        DocumentStatus.READY,
        DocumentStatus.DISPATCHED,
        DocumentStatus.DELIVERED,
    ]
    for current, target in itertools.pairwise(path):
        assert DOCUMENT_STATES.allowed(current, target), (current, target)


def test_a_draft_cannot_be_dispatched_and_a_delivered_document_cannot_become_a_draft() -> None:
    assert not DOCUMENT_STATES.allowed(DocumentStatus.DRAFT, DocumentStatus.DISPATCHED)
    assert not DOCUMENT_STATES.allowed(DocumentStatus.DELIVERED, DocumentStatus.DRAFT)
    assert DOCUMENT_STATES.is_final(DocumentStatus.DELIVERED) is False
    assert not DOCUMENT_STATES.targets(DocumentStatus.DELIVERED) - {DocumentStatus.RETURNED}


@dataclass
class FakeDocument:
    status: DocumentStatus
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    organisation_id: uuid.UUID = field(default_factory=uuid.uuid4)
    states: ClassVar[StateMachine[DocumentStatus]] = DOCUMENT_STATES


def test_check_raises_a_dutch_message_naming_both_statuses() -> None:
    document = FakeDocument(DocumentStatus.DRAFT)
    with pytest.raises(IllegalTransition) as raised:
        check(document, DocumentStatus.DISPATCHED)
    assert raised.value.message == ("Het document staat op ‘ontwerp’ en kan niet naar ‘verzonden’.")
    assert document.status is DocumentStatus.DRAFT
