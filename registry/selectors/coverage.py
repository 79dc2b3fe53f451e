"""What a screening's item-by-item reads cover: items that matched a work or were denied have a
row each; unregistered and invalid items are counted, and proved by their chunk's Merkle root."""

from typing import Any

from registry.models import Screening

UNLISTED = ("unregistered", "invalid")
COVERAGE_NOTE = (
    "Items that matched a registered work or were denied are listed one by one; unregistered "
    "and invalid items are counted only. Every decision, listed or not, is covered by its "
    "chunk's Merkle root in the signed receipt, and the screening organization's results file "
    "proves any one of them (verify-receipt --results)."
)


def unlisted_counts(screening: Screening) -> dict[str, int]:
    return {decision: int(screening.unlisted_counts.get(decision, 0)) for decision in UNLISTED}


def item_coverage(screening: Screening) -> dict[str, Any]:
    """How many decided items a per-item read lists, and how many it only counts."""
    counted = unlisted_counts(screening)
    return {
        "listed_items": screening.done_items - sum(counted.values()),
        "counted_only": counted,
    }
