"""The four purposes and the Reservation: one signal that denies some of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from registry.gatekeeper import Purpose

# The gatekeeper owns the purposes; these names are the readers' shorthand for its members.
AI_TRAINING, AI_GENERATIVE_TRAINING, DATA_MINING, AI_INFERENCE = Purpose

PURPOSES: tuple[str, ...] = tuple(Purpose)
ALL_PURPOSES: frozenset[str] = frozenset(PURPOSES)
TRAINING: frozenset[str] = frozenset({AI_TRAINING, AI_GENERATIVE_TRAINING})
NO_PURPOSES: frozenset[str] = frozenset()

# Values and notes come from untrusted files and headers: they are cut before they go
# into an item's reason so that one item cannot bloat a report.
MAX_TEXT = 200


@dataclass(frozen=True)
class Reservation:
    """One signal that reserves (denies) some purposes."""

    source: str
    value: str
    purposes: frozenset[str]
    note: str = ""

    def describe(self) -> str:
        """The text an item's reason carries, e.g. `http:X-Robots-Tag "noai"`."""
        text = f'{self.source} "{self.value}"' if self.value else self.source
        return f"{text} ({self.note})" if self.note else text


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reservation(source: str, value: str, purposes: Iterable[str], note: str = "") -> Reservation:
    return Reservation(source, clip(value), frozenset(purposes), clip(note))


def unparseable(source: str, value: str, why: str) -> Reservation:
    """Fail closed: a signal we cannot read denies every purpose, and says so."""
    return reservation(source, value, ALL_PURPOSES, f"unparseable: {why}")


def denied_purposes(reservations: Iterable[Reservation], purpose: str) -> list[Reservation]:
    """The reservations that deny `purpose`, in the order given."""
    if purpose not in ALL_PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; expected one of {', '.join(PURPOSES)}")
    return [item for item in reservations if purpose in item.purposes]
