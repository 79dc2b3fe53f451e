"""`verify-receipt --results`: does a results file hold what the signed receipt says was decided?

A receipt of version 2 lists its chunks (number, items, digest); each chunk's digest covers one
line per item: id, decision, matched works and the SHA-256 of the image screened. The results
file is read in order, chunk by chunk, and every chunk's digest recomputed. Where the image named
by a line's path is at hand, its SHA-256 must also be the one screened: a decision cannot be
carried over to another file under its name.
"""

import hashlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.receipts import (
    BOUND_DIGEST_VERSION,
    ReceiptError,
    bound_decision_line,
    chunks_digest,
    decisions_digest,
)

READ_BYTES = 1 << 20


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
