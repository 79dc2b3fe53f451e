"""`verify-receipt --results`: does a results file hold what the signed receipt says was decided?

A receipt of version 3 lists each chunk's Merkle root (registry/merkle.py): every line's leaf
is rebuilt from what it says was decided, and each chunk's root recomputed. A line also keeps
the leaf hash the client recorded when it checked the root at collection: a line changed since
is named, and any one item's decision can be proved with its path (`--item`, `--proof`).

A receipt of version 2 lists its chunks (number, items, digest); each chunk's digest covers one
line per item: id, decision, matched works and the SHA-256 of the image screened. The results
file is read in order, chunk by chunk, and every chunk's digest recomputed. Where the image named
by a line's path is at hand, its SHA-256 must also be the one screened: a decision cannot be
carried over to another file under its name.
"""

import hashlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.merkle import (
    ItemProof,
    ProofError,
    audit_path,
    chunk_leaf,
    decision_leaf,
    leaf_hash,
    root_of,
    root_of_leaves,
)
from registry.receipts import (
    BOUND_DIGEST_VERSION,
    MERKLE_DIGEST_VERSION,
    ReceiptError,
    bound_decision_line,
    chunks_digest,
    decisions_digest,
    key_id,
    verify,
)
from registry.url_receipts import ATTESTATION_TYPE, run_document, states_scope, url_leaf

READ_BYTES = 1 << 20
# What a results line says was decided: a line the receipt does not cover may hold none of it.
DECISION_FIELDS = frozenset({"decision", "reason", "matches", "credit", "passes", "leaf"})


@dataclass(frozen=True)
class ResultLine:
    number: int
    path: str
    line: str  # the canonical decision line the digest covers


def file_sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while block := file.read(READ_BYTES):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _chunks(document: dict[str, Any]) -> list[tuple[int, int, str]]:
    if document.get("version", 1) < BOUND_DIGEST_VERSION or "chunks" not in document:
        raise ReceiptError(
            "this receipt (version 1) does not bind the images' SHA-256; "
            "--results needs a receipt of version 2 or later"
        )
    chunks = [
        (int(number), int(items), str(digest)) for number, items, digest in document["chunks"]
    ]
    if chunks_digest((number, digest) for number, _, digest in chunks) != document.get(
        "decisions_digest"
    ):
        raise ReceiptError("the receipt's chunk list does not add up to its decisions digest")
    return chunks


def _read_line(number: int, text: str, mismatches: list[str]) -> ResultLine:
    record = json.loads(text)
    path = str(record.get("path") or "")
    on_disk = file_sha256(Path(path)) if path else None
    claimed = record.get("sha256", on_disk)
    # No SHA-256 in the line: the image could not be read when screened (its decision is
    # invalid, which the digest checks); the bytes on disk have nothing to be compared with.
    if on_disk is not None and claimed is not None and claimed != on_disk:
        mismatches.append(
            f"line {number} ({path}): the file's SHA-256 is {on_disk}, "
            f"but the decision was made for an image with SHA-256 {claimed}"
        )
    works = [match["work_id"] for match in record.get("matches") or []]
    line = bound_decision_line(str(record["id"]), str(record["decision"]), works, claimed)
    return ResultLine(number, path, line)


def _lines(results: Path, mismatches: list[str]) -> Iterator[ResultLine]:
    with results.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            if not text.strip():
                continue
            try:
                yield _read_line(number, text, mismatches)
            except (ValueError, KeyError, TypeError):
                raise ReceiptError(
                    f"line {number} of {results} is not a results line of the client"
                ) from None


def _span(lines: Sequence[ResultLine]) -> str:
    if not lines:
        return "no lines"
    first, last = lines[0], lines[-1]
    return f"line {first.number}" if first is last else f"lines {first.number}-{last.number}"


def results_mismatches(document: dict[str, Any], results: Path) -> list[str]:
    """One sentence per line or chunk of `results` that does not match the signed receipt."""
    chunks = _chunks(document)
    mismatches: list[str] = []
    lines = list(_lines(results, mismatches))
    expected = sum(items for _, items, _ in chunks)
    if len(lines) != expected:
        mismatches.append(f"the results hold {len(lines)} lines; the receipt, {expected} items")
    start = 0
    for number, items, digest in chunks:
        part = lines[start : start + items]
        start += items
        if decisions_digest(result.line for result in part) != digest:
            mismatches.append(
                f"{_span(part)} (chunk {number}): the ids, decisions, matched works or SHA-256 "
                "differ from what the receipt signed"
            )
    return mismatches


def check_results(document: dict[str, Any], results: Path) -> int:
    """Print one line per mismatch (exit status 1), or what was verified (0)."""
    if int(document.get("version", 1)) >= MERKLE_DIGEST_VERSION:
        mismatches = merkle_mismatches(document, results)
    else:
        mismatches = results_mismatches(document, results)
    for mismatch in mismatches:
        print(f"Mismatch: {mismatch}", file=sys.stderr)
    if mismatches:
        print(
            f"{results} does not match the receipt: {len(mismatches)} mismatches.", file=sys.stderr
        )
        return 1
    print(
        f"Valid receipt of screening {document['screening_id']}; {results} holds exactly its "
        f"{document['items']} decisions."
    )
    return 0


# --- Version 3: a Merkle root per chunk ---------------------------------------------------


@dataclass(frozen=True)
class LeafLine:
    number: int
    item_id: str
    leaf: bytes  # the leaf rebuilt from what the line says was decided
    recorded: bytes | None  # the leaf hash the client recorded when the root checked out


LineReader = Callable[[int, dict[str, Any], list[str]], LeafLine | None]


def _screened_line(number: int, record: dict[str, Any], mismatches: list[str]) -> LeafLine | None:
    if "skipped" in record and "id" not in record:
        # A file the client never sent: no decision to check, so it may claim none either.
        claimed_decision = DECISION_FIELDS.intersection(record)
        if claimed_decision:
            mismatches.append(
                f"line {number} ({record.get('path') or 'no path'}): a file never screened "
                f"carries {', '.join(sorted(claimed_decision))}, which no receipt signed"
            )
        return None
    path = str(record.get("path") or "")
    on_disk = file_sha256(Path(path)) if path else None
    claimed = record.get("sha256", on_disk)
    if on_disk is not None and claimed is not None and claimed != on_disk:
        mismatches.append(
            f"line {number} ({path}): the file's SHA-256 is {on_disk}, "
            f"but the decision was made for an image with SHA-256 {claimed}"
        )
    works = [match["work_id"] for match in record.get("matches") or []]
    leaf = decision_leaf(
        str(record["id"]), str(record["decision"]), str(record["reason"]), works, claimed
    )
    return LeafLine(number, str(record["id"]), leaf, _recorded(record))


def _url_line(number: int, record: dict[str, Any], mismatches: list[str]) -> LeafLine:
    asked = str(record.get("asked", record["url"]))
    leaf = url_leaf(asked, str(record["decision"]), str(record["reason"]), record["works"])
    return LeafLine(number, str(record["url"]), leaf, _recorded(record))


def _recorded(record: dict[str, Any]) -> bytes | None:
    recorded = record.get("leaf")
    return bytes.fromhex(recorded) if recorded else None


@dataclass(frozen=True)
class Layout:
    """Where a receipt lists its Merkle roots, and how a results line becomes a leaf."""

    key: str = "chunks"
    unit: str = "chunk"
    read: LineReader = _screened_line


SCREENING, URL_RUN = Layout(), Layout("batches", "batch", _url_line)


def merkle_chunks(
    document: dict[str, Any], layout: Layout = SCREENING
) -> list[tuple[int, int, str]]:
    """The receipt's chunks, once they are shown to add up to its decisions root."""
    try:
        chunks = [(int(n), int(items), str(root)) for n, items, root in document[layout.key]]
    except (KeyError, TypeError, ValueError):
        raise ReceiptError(
            f"the receipt's {layout.unit} list is not [number, items, root] each"
        ) from None
    top = root_of_leaves(chunk_leaf(number, items, root) for number, items, root in chunks)
    if top != document.get("decisions_root"):
        raise ReceiptError(f"the receipt's {layout.unit} roots do not add up to its decisions root")
    return chunks


def _leaf_lines(results: Path, mismatches: list[str], layout: Layout) -> list[LeafLine]:
    lines: list[LeafLine] = []
    with results.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            if not text.strip():
                continue
            try:
                line = layout.read(number, json.loads(text), mismatches)
            except (ValueError, KeyError, TypeError):
                raise ReceiptError(
                    f"line {number} of {results} is not a results line of the client"
                ) from None
            if line is not None:
                lines.append(line)
    return lines


def _recorded_root(part: Sequence[LeafLine]) -> str | None:
    recorded = [line.recorded for line in part]
    if any(leaf is None for leaf in recorded):
        return None
    return root_of([leaf for leaf in recorded if leaf is not None]).hex()


def _chunk_mismatches(
    number: int, root: str, part: Sequence[LeafLine], layout: Layout
) -> list[str]:
    rebuilt = root_of([leaf_hash(line.leaf) for line in part]).hex()
    if rebuilt == root:
        return []
    if _recorded_root(part) == root:
        # The recorded leaves are the signed ones: each line that rebuilds another names itself.
        return [
            f"line {line.number} (item {line.item_id!r}): its decision, reason, matched works "
            f"or SHA-256 differ from what the receipt signed ({layout.unit} {number})"
            for line in part
            if leaf_hash(line.leaf) != line.recorded
        ]
    return [
        f"{_span_of(part)} ({layout.unit} {number}): the ids, decisions, reasons, matched works "
        "or SHA-256 differ from what the receipt signed"
    ]


def _span_of(part: Sequence[LeafLine]) -> str:
    if not part:
        return "no lines"
    first, last = part[0], part[-1]
    return f"line {first.number}" if first is last else f"lines {first.number}-{last.number}"


def merkle_mismatches(
    document: dict[str, Any], results: Path, layout: Layout = SCREENING
) -> list[str]:
    chunks = merkle_chunks(document, layout)
    mismatches: list[str] = []
    lines = _leaf_lines(results, mismatches, layout)
    expected = sum(items for _, items, _ in chunks)
    if len(lines) != expected:
        mismatches.append(f"the results hold {len(lines)} lines; the receipt, {expected} items")
    start = 0
    for number, items, root in chunks:
        mismatches += _chunk_mismatches(number, root, lines[start : start + items], layout)
        start += items
    return mismatches


def item_proof(
    document: dict[str, Any], results: Path, item_id: str, layout: Layout = SCREENING
) -> ItemProof:
    """The proof of one item's decision, built from the results file; raises ReceiptError
    naming the item when its decision there is not the one the receipt signed."""
    chunks = merkle_chunks(document, layout)
    lines = _leaf_lines(results, [], layout)
    start = 0
    for chunk_index, (number, items, root) in enumerate(chunks):
        part = lines[start : start + items]
        start += items
        index = next((i for i, line in enumerate(part) if line.item_id == item_id), None)
        if index is None:
            continue
        # Siblings from the recorded leaves when they are the signed ones: another line's
        # change must not make this item's honest decision look forged.
        recorded = _recorded_root(part) == root
        hashes = [
            line.recorded if recorded and line.recorded else leaf_hash(line.leaf) for line in part
        ]
        chunk_hashes = [leaf_hash(chunk_leaf(n, size, r)) for n, size, r in chunks]
        proof = ItemProof(
            leaf=part[index].leaf,
            chunk=number,
            index=index,
            items=items,
            path=audit_path(hashes, index),
            chunk_index=chunk_index,
            chunks=len(chunks),
            chunk_path=audit_path(chunk_hashes, chunk_index),
        )
        check_proof(document, proof, layout)
        return proof
    raise ReceiptError(f"item {item_id!r} is not among the decisions of {results}")


def check_proof(document: dict[str, Any], proof: ItemProof, layout: Layout = SCREENING) -> None:
    """Raise ReceiptError naming the item unless the proof leads to the receipt's roots."""
    chunks = merkle_chunks(document, layout)
    leaf = json.loads(proof.leaf)
    who = f"item {leaf.get('id', leaf.get('url'))!r} ({leaf.get('decision')}: {leaf.get('reason')})"
    try:
        chunk_root, top = proof.roots()
    except ProofError as error:
        raise ReceiptError(f"{who}: {error}") from None
    signed = chunks[proof.chunk_index] if 0 <= proof.chunk_index < len(chunks) else None
    if signed != (proof.chunk, proof.items, chunk_root) or top != document["decisions_root"]:
        raise ReceiptError(
            f"{who}: this decision is not the one the receipt signed for {layout.unit} "
            f"{proof.chunk} (its decision, reason, matched works or SHA-256 were changed)"
        )


# --- URL runs: the signed attestations of each batch --------------------------------------


def url_attestation_document(
    attestation: dict[str, Any], public_key: Ed25519PublicKey, *, name: str = "the attestation"
) -> dict[str, Any]:
    """One URL check's signed document, once it is shown to be the registry's and, from
    version 2, to state that its answers are about URLs only."""
    document = attestation.get("document") or {}
    if document.get("type") != ATTESTATION_TYPE or document.get("key_id") != key_id(public_key):
        raise ReceiptError(f"{name}: not an attestation signed with the key given")
    try:
        verify(document, attestation["signature"], public_key)
    except (ReceiptError, KeyError):
        raise ReceiptError(
            f"{name}: the attestation's signature does not match its content"
        ) from None
    try:
        states_scope(document)
    except ValueError as error:
        raise ReceiptError(f"{name}: {error}") from None
    return document


def url_run_document(receipt: dict[str, Any], public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The run's summary, once every batch's attestation is shown to be the registry's and the
    summary to be exactly what they say."""
    attestations = receipt.get("attestations")
    if not isinstance(attestations, list):
        raise ReceiptError("a URL run's receipt lists its batches' attestations")
    for number, attestation in enumerate(attestations):
        url_attestation_document(attestation, public_key, name=f"batch {number}")
    summary = receipt.get("document") or {}
    rebuilt = run_document(
        [attestation for attestation in attestations],
        source=str(summary.get("source")),
        url_column=str(summary.get("url_column")),
    )
    if rebuilt != summary:
        raise ReceiptError("the run's summary does not match its batches' signed attestations")
    # The summary states the first batch's organization, purpose and mode: every batch must
    # have been answered for the same, else a batch checked for a purpose that allows more
    # would pass as one of this run.
    first = _answered_for(attestations[0]["document"]) if attestations else None
    for number, attestation in enumerate(attestations):
        if _answered_for(attestation["document"]) != first:
            raise ReceiptError(
                f"batch {number} was answered for another organization, purpose, mode or "
                "minimum assurance than batch 0"
            )
    return summary


def _answered_for(document: dict[str, Any]) -> str:
    """What a URL check's answers hold for: who asked, for which purpose, mode and minimum."""
    fields = ("organization", "purpose", "mode", "min_assurance")
    return json.dumps([document.get(field) for field in fields], sort_keys=True)
