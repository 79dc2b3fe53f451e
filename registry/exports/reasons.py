"""Counting decisions by reason: each item's reasons are reduced to their kinds ("work 12:
not_allowed; work 13: under_dispute" counts under not_allowed and under under_dispute) by the
gatekeeper, which writes them, before counting."""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from registry.gatekeeper import reason_kinds

__all__ = ["count_reasons", "reason_kinds"]


def count_reasons(
    rows: Iterable[tuple[str, str, Sequence[Mapping[str, Any]] | None, int]],
) -> dict[str, int]:
    """(decision, reason text, reasons as data, items) rows → items per "decision: reason kind"."""
    counts: Counter[str] = Counter()
    for decision, reason, data, items in rows:
        for kind in reason_kinds(decision, reason, data):
            counts[f"{decision}: {kind}"] += items
    return dict(sorted(counts.items()))
