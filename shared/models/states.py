"""Declared status transitions. One table per model; `shared.services.transitions` applies them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class StateMachine(Generic[S]):
    """The allowed moves between the statuses of one model.

    `labels` gives the Dutch name of each status, used in error messages and pages.
    """

    name: str
    noun: str
    """The object in Dutch, with article, as it starts a sentence: 'Het document'."""
    transitions: Mapping[S, frozenset[S]]
    labels: Mapping[S, str]

    def allowed(self, current: S, target: S) -> bool:
        return target in self.transitions.get(current, frozenset())

    def targets(self, current: S) -> frozenset[S]:
        return self.transitions.get(current, frozenset())

    def is_final(self, status: S) -> bool:
        return not self.transitions.get(status)

    def label(self, status: S) -> str:
        return self.labels.get(status, str(status))


def machine(
    name: str, noun: str, moves: Mapping[S, tuple[S, ...]], labels: Mapping[S, str]
) -> StateMachine[S]:
    """Declare a state machine from `{status: (allowed next statuses, ...)}`."""
    missing = set(moves) - set(labels)
    if missing:
        raise ValueError(f"{name}: statuses without a Dutch label: {sorted(missing)}")
    return StateMachine(
        name=name,
        noun=noun,
        transitions={source: frozenset(targets) for source, targets in moves.items()},
        labels=labels,
    )
