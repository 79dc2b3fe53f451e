"""Every decision of a finished screening, for the results file: the listed items (those that
matched a work or were denied) come from GET .../items; the unregistered and invalid ones,
which the registry only counts, from GET .../decisions by chunk and position, named here with
the ids this client sent at those positions.

Fail closed: where the image hashes are known, each chunk's decisions are rebuilt into their
Merkle root and compared with the signed receipt before anything is written; a chunk that does
not add up stops the run. A position nobody answered for is `invalid`.
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from registry.client.api import ApiError, Registry, checked
from registry.merkle import decision_leaf, root_of_leaves
from registry.receipts import MERKLE_DIGEST_VERSION

NO_DECISION = "no decision was returned"
DECISIONS_PAGE = 1000
NDJSON = "application/x-ndjson"
STREAM_READ_BYTES = 1 << 16


def stream_decisions(registry: Registry, screening_id: str) -> Iterator[dict[str, Any]]:
    """A finished screening's listed decisions, read as JSON Lines as they arrive."""
    response = registry.request(
        "GET", f"screenings/{screening_id}/items", headers={"Accept": NDJSON}, stream=True
    )
    if response.status_code >= 400:
        checked(response)
    # Large reads: requests' default of 512 bytes costs a call per few lines.
    for line in response.iter_lines(chunk_size=STREAM_READ_BYTES):
        if line:
            yield json.loads(line)


def chunk_pages(registry: Registry, screening_id: str) -> Iterator[dict[str, Any]]:
    """The screening's chunks as decided, in number order."""
    params: dict[str, Any] = {"page_size": DECISIONS_PAGE}
    path = f"screenings/{screening_id}/decisions"
    while True:
        page = registry.get(path, params=params)
        yield from page["results"]
        following = page.get("next")
        if not following:
            return
        cursor = parse_qs(urlsplit(following).query).get("cursor")
        if not cursor:
            raise ApiError(f"the registry's next page of {path} names no cursor: {following}")
        params = {"page_size": DECISIONS_PAGE, "cursor": cursor[0]}


def _unlisted_entries(chunk: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    entries: dict[int, dict[str, Any]] = {}
    for start, count, decision, reason in chunk["unlisted"]:
        for position in range(int(start), int(start) + int(count)):
            entries[position] = _decided(decision, reason)
    return entries


def leaf_of(decision: Mapping[str, Any], sha256: str | None) -> bytes:
    works = [match["work_id"] for match in decision.get("matches") or []]
    return decision_leaf(
        str(decision["id"]), str(decision["decision"]), str(decision["reason"]), works, sha256
    )


def _signed_roots(receipt: Mapping[str, Any] | None) -> dict[int, str] | None:
    document = (receipt or {}).get("document") or {}
    if int(document.get("version", 1)) < MERKLE_DIGEST_VERSION:
        return None
    return {int(number): str(root) for number, _, root in document["chunks"]}


def every_decision(
    registry: Registry,
    screening: Mapping[str, Any],
    chunk_ids: Sequence[Sequence[str]],
    hashes: Mapping[str, str | None] | None = None,
) -> Iterator[dict[str, Any]]:
    """One decision per item sent, chunk by chunk; `chunk_ids[n]` are the ids chunk n held, in
    order. With `hashes` (id -> SHA-256 sent), every chunk's root is checked against the
    receipt's, naming the first chunk that differs."""
    screening_id = str(screening["id"])
    listed: dict[tuple[int, int], dict[str, Any]] = {}
    by_id: dict[str, dict[str, Any]] = {}
    for decision in stream_decisions(registry, screening_id):
        listed[(int(decision["chunk"]), int(decision["position"]))] = decision
        by_id[str(decision["id"])] = decision
    signed = _signed_roots(screening.get("receipt"))
    for chunk in chunk_pages(registry, screening_id):
        number = int(chunk["number"])
        if number >= len(chunk_ids):
            continue
        yield from _chunk_decisions(chunk, chunk_ids[number], listed, by_id, hashes, signed)


def _chunk_decisions(
    chunk: Mapping[str, Any],
    ids: Sequence[str],
    listed: Mapping[tuple[int, int], dict[str, Any]],
    by_id: Mapping[str, dict[str, Any]],
    hashes: Mapping[str, str | None] | None,
    signed: Mapping[int, str] | None,
) -> Iterator[dict[str, Any]]:
    number = int(chunk["number"])
    if chunk.get("merkle_root") is None:
        # Decided before roots were kept: every item has a row, found by its id.
        for item_id in ids:
            yield by_id.get(item_id) or _missing(item_id)
        return
    unlisted = _unlisted_entries(chunk)
    decisions = []
    for position, item_id in enumerate(ids):
        found = listed.get((number, position)) or unlisted.get(position)
        decisions.append({**found, "id": item_id} if found else _missing(item_id))
    if hashes is not None:
        root = root_of_leaves(leaf_of(d, hashes.get(str(d["id"]))) for d in decisions)
        expected = signed.get(number) if signed is not None else chunk["merkle_root"]
        if root != chunk["merkle_root"] or root != expected:
            raise ApiError(
                f"the registry's decisions for chunk {number} do not add up to the Merkle root "
                "its signed receipt holds; nothing was written (run again, or report it)"
            )
    yield from decisions


def _decided(decision: str, reason: str) -> dict[str, Any]:
    return {"decision": decision, "reason": reason, "matches": [], "credit": []}


def _missing(item_id: str) -> dict[str, Any]:
    return {"id": item_id, **_decided("invalid", NO_DECISION)}
