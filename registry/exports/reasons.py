"""Counting decisions by reason: the gatekeeper's reason text names works, so it is reduced to
its kind ("work 12: not_allowed; work 13: under_dispute" counts under not_allowed and under
under_dispute) before counting."""

import re
from collections import Counter
from collections.abc import Iterable

_WORK_PREFIX = re.compile(r"^work \d+: ")
_TRAILING_WORK = re.compile(r" for work \d+$")


def reason_kinds(decision: str, reason: str) -> list[str]:
    """The distinct kinds of reason in one item's reason text, in order."""
    if decision == "invalid":
        # "malformed fingerprint: <parser message>": the message varies, the kind does not.
        return [reason.split(":", 1)[0].strip()]
    kinds: list[str] = []
    for part in reason.split("; "):
        kind = _TRAILING_WORK.sub("", _WORK_PREFIX.sub("", part.strip()))
        if kind and kind not in kinds:
            kinds.append(kind)
    return kinds


def count_reasons(rows: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """(decision, reason, items) rows → items per "decision: reason kind"."""
    counts: Counter[str] = Counter()
    for decision, reason, items in rows:
        for kind in reason_kinds(decision, reason):
            counts[f"{decision}: {kind}"] += items
    return dict(sorted(counts.items()))
