"""The gatekeeper's rules (DESIGN.md), as plain functions over what the selectors found.

Fail closed: an item is `allowed` only when every path below says so; anything unexpected ends
in `invalid` or `denied`, never in `allowed`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

ALLOWED, DENIED, UNREGISTERED, INVALID = "allowed", "denied", "unregistered", "invalid"
CONSENT_REQUIRED, RESPECT_OPT_OUTS = "consent_required", "respect_opt_outs"


@dataclass(frozen=True)
class MatchedWork:
    work_id: int
    variant: str
    distances: Mapping[str, int | float]
    exact: bool = False

    def as_dict(self) -> dict[str, Any]:
        algorithm = "phash+verify"
        if self.exact:  # a source-URL match names no image; the others matched its bytes
            algorithm = "source_url" if self.variant == "source_url" else "sha256"
        return {
            "work_id": self.work_id,
            "variant": self.variant,
            "algorithm": algorithm,
            "distance": 0 if self.exact else self.distances.get("phash"),
            "distances": dict(self.distances),
        }


@dataclass(frozen=True)
class WorkPermit:
    allowed: bool
    reason: str
    license: str


@dataclass(frozen=True)
class Credit:
    """What a passing item must carry: who made it, what it is, and on what terms."""

    artist: str
    credit_line: str
    title: str
    work_id: int
    url: str
    license: str
    attribution: str


@dataclass(frozen=True)
class ItemDecision:
    decision: str
    reason: str
    matches: list[dict[str, Any]] = field(default_factory=list)
    credit: list[dict[str, Any]] = field(default_factory=list)

    @property
    def work_ids(self) -> list[int]:
        return [match["work_id"] for match in self.matches]


def invalid(reason: str) -> ItemDecision:
    return ItemDecision(INVALID, reason)


def decide(
    matches: Sequence[MatchedWork],
    permits: Mapping[int, WorkPermit],
    credits: Mapping[int, Credit],
    *,
    reservations: Sequence[str] = (),
) -> ItemDecision:
    """Rules 3 and 4: unregistered, denied by any match or embedded reservation, else allowed."""
    described = [match.as_dict() for match in matches]
    refusals = [f"reserved by {signal}" for signal in reservations]
    for match in matches:
        permit = permits.get(match.work_id)
        if permit is None or not permit.allowed:
            why = permit.reason if permit is not None else "terms unknown"
            refusals.append(f"work {match.work_id}: {why}")
    if refusals:
        return ItemDecision(DENIED, "; ".join(refusals), described)
    if not matches:
        return ItemDecision(UNREGISTERED, "no registered work matches", described)
    missing = [match.work_id for match in matches if match.work_id not in credits]
    if missing:  # an allowed item must carry its credit; without one it cannot pass
        return ItemDecision(DENIED, f"no credit on record for work {missing[0]}", described)
    return ItemDecision(
        ALLOWED,
        "; ".join(f"work {m.work_id}: {permits[m.work_id].reason}" for m in matches),
        described,
        [asdict(credits[match.work_id]) for match in matches],
    )


def passes(decision: str, mode: str) -> bool:
    """Rule 5: what a screening lets through in each mode."""
    if mode == RESPECT_OPT_OUTS:
        return decision in (ALLOWED, UNREGISTERED)
    return decision == ALLOWED
