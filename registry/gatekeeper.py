"""The gatekeeper's rules (docs/gatekeeper.md), as plain functions over what the selectors found.

Fail closed: an item is `allowed` only when every path below says so; anything unexpected ends
in `invalid` or `denied`, never in `allowed`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from registry.assurance import SELF_ASSERTED, VERIFIED, meets, rank


# The owners of the gatekeeper's terms. The values are what the database, the API, receipts and
# exports store and show; Django's choices (registry.models) add labels to these same values.
class Decision(StrEnum):
    """What the gatekeeper decides for one item."""

    ALLOWED = "allowed"
    DENIED = "denied"
    UNREGISTERED = "unregistered"
    INVALID = "invalid"


class Mode(StrEnum):
    """What a screening lets through: only consented items, or unregistered ones too."""

    CONSENT_REQUIRED = "consent_required"
    RESPECT_OPT_OUTS = "respect_opt_outs"


class Purpose(StrEnum):
    """The four uses named by the C2PA 1.4 / CAWG training-and-data-mining assertion."""

    AI_TRAINING = "ai_training"
    AI_GENERATIVE_TRAINING = "ai_generative_training"
    DATA_MINING = "data_mining"
    AI_INFERENCE = "ai_inference"


ALLOWED, DENIED, UNREGISTERED, INVALID = Decision
CONSENT_REQUIRED, RESPECT_OPT_OUTS = Mode
# The rule *what passes*, as data: the decisions each mode lets through.
_PASSING: dict[str, tuple[Decision, ...]] = {
    Mode.CONSENT_REQUIRED: (Decision.ALLOWED,),
    Mode.RESPECT_OPT_OUTS: (Decision.ALLOWED, Decision.UNREGISTERED),
}
# The reason code of a permission given by a claim less sure than the screening asks for.
CONSENT_UNVERIFIED = "consent_unverified"


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
    assurance: str = SELF_ASSERTED
    # Set when this work is the later, less sure claim in an open dispute with that work: it
    # cannot change the decision of an item that matches the earlier work too.
    superseded_by: int | None = None


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
    assurance: str = SELF_ASSERTED


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


def _refusal(permit: WorkPermit | None, min_assurance: str) -> str | None:
    """Why a matched work stops the item, or None. A restriction counts at any assurance;
    a permission only at or above the screening's minimum."""
    if permit is None:
        return "terms unknown"
    if not permit.allowed:
        return permit.reason
    if not meets(permit.assurance, min_assurance):
        return f"{CONSENT_UNVERIFIED} ({permit.assurance}, below {min_assurance})"
    return None


def _counted(
    matches: Sequence[MatchedWork], permits: Mapping[int, WorkPermit]
) -> list[MatchedWork]:
    """The matches that take part in the decision: a later, less sure claim is left out when
    the item also matches the earlier work it disputes."""
    matched_ids = {match.work_id for match in matches}
    return [
        match
        for match in matches
        if (permit := permits.get(match.work_id)) is None
        or permit.superseded_by is None
        or permit.superseded_by not in matched_ids
    ]


def decide(
    matches: Sequence[MatchedWork],
    permits: Mapping[int, WorkPermit],
    credits: Mapping[int, Credit],
    *,
    reservations: Sequence[str] = (),
    min_assurance: str = VERIFIED,
) -> ItemDecision:
    """The rules *matched works decide* and *embedded reservations*: unregistered, denied by
    any match or embedded reservation, else allowed."""
    described = [match.as_dict() for match in matches]
    counted = _counted(matches, permits)
    refusals = [f"reserved by {signal}" for signal in reservations]
    for match in counted:
        why = _refusal(permits.get(match.work_id), min_assurance)
        if why is not None:
            refusals.append(f"work {match.work_id}: {why}")
    if refusals:
        return ItemDecision(DENIED, "; ".join(refusals), described)
    if not counted:
        return ItemDecision(UNREGISTERED, "no registered work matches", described)
    missing = [match.work_id for match in counted if match.work_id not in credits]
    if missing:  # an allowed item must carry its credit; without one it cannot pass
        return ItemDecision(DENIED, f"no credit on record for work {missing[0]}", described)
    return ItemDecision(
        ALLOWED,
        "; ".join(f"work {m.work_id}: {permits[m.work_id].reason}" for m in counted),
        described,
        [asdict(credits[match.work_id]) for match in counted],
    )


def weakest_assurance(decision: ItemDecision) -> str | None:
    """The least assurance among the permissions an allowed item used (receipts count these)."""
    levels = [credit.get("assurance", SELF_ASSERTED) for credit in decision.credit]
    if decision.decision != ALLOWED or not levels:
        return None
    return min(levels, key=rank)


def passing_decisions(mode: str) -> tuple[Decision, ...]:
    """The rule *what passes*: the decisions a screening in this mode lets through. An unknown
    mode lets through what the strictest does (fail closed)."""
    return _PASSING.get(mode, _PASSING[Mode.CONSENT_REQUIRED])


def passes(decision: str, mode: str) -> bool:
    """The rule *what passes*: whether a screening in this mode lets this decision through."""
    return decision in passing_decisions(mode)
