"""The decisions of a chunk's items that get no row (unregistered, invalid), kept by position
in a few bytes per chunk, so that the client can rebuild every leaf of the chunk's Merkle root.

Stored as zlib-compressed JSON: {"codes": one letter per position ("L" listed: the item has a
row; "U" unregistered; "I" invalid), "reasons": [[position, reason], ...] for the unlisted
items whose reason is not their decision's usual one}. No item id or fingerprint is kept: the
client knows which item it sent at each position.
"""

import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

LISTED = "L"
CODES = {"unregistered": "U", "invalid": "I"}
DECISIONS = {code: decision for decision, code in CODES.items()}
# The reason an unregistered item always gets from the gatekeeper; stored only if it differs.
USUAL_REASONS = {"unregistered": "no registered work matches"}


@dataclass(frozen=True)
class Unlisted:
    position: int
    decision: str
    reason: str


def pack(codes: Sequence[str], reasons: Sequence[tuple[int, str]]) -> bytes:
    document = {"codes": "".join(codes), "reasons": [list(entry) for entry in reasons]}
    return zlib.compress(json.dumps(document, ensure_ascii=False).encode(), 9)


def encode(entries: Sequence[Unlisted | None]) -> bytes:
    """One entry per position: None for an item with a row."""
    codes: list[str] = []
    reasons: list[tuple[int, str]] = []
    for position, entry in enumerate(entries):
        if entry is None:
            codes.append(LISTED)
            continue
        codes.append(CODES[entry.decision])
        if entry.reason != USUAL_REASONS.get(entry.decision):
            reasons.append((position, entry.reason))
    return pack(codes, reasons)


def decode(blob: bytes) -> Iterator[Unlisted]:
    """The unlisted items of a chunk, in position order."""
    if not blob:
        return
    document = json.loads(zlib.decompress(blob))
    reasons = {int(position): str(reason) for position, reason in document["reasons"]}
    for position, code in enumerate(document["codes"]):
        if code == LISTED:
            continue
        decision = DECISIONS[code]
        yield Unlisted(position, decision, reasons.get(position, USUAL_REASONS.get(decision, "")))


def runs(blob: bytes) -> list[tuple[int, int, str, str]]:
    """(start, count, decision, reason) per run of consecutive unlisted items decided alike:
    what the API answers (a chunk of 10,000 unregistered items is one run)."""
    found: list[tuple[int, int, str, str]] = []
    for entry in decode(blob):
        if found:
            start, count, decision, reason = found[-1]
            if (decision, reason, start + count) == (entry.decision, entry.reason, entry.position):
                found[-1] = (start, count + 1, decision, reason)
                continue
        found.append((entry.position, 1, entry.decision, entry.reason))
    return found
