"""Receipts of URL checks, in plain Python so anyone can verify one offline.

A URL check is stateless: the registry keeps nothing of it. Instead each answer carries an
attestation, the registry's Ed25519 signature over a summary of that answer whose
`decisions_root` is the Merkle root (registry/merkle.py, RFC 6962) of one leaf per URL, in the
order asked: the canonical JSON {"decision", "reason", "url", "works"} (works: matched work ids,
ascending). `screen-urls` collects the attestations of its batches, in order, into the run's
receipt; `verify-receipt` checks every signature and, with --results, rebuilds every root from
the results file.

Every answer is about a URL, never about an image: the registry examined no picture, and the
page may serve another one by the time it is downloaded. So the signed documents say so
(version 2: `scope` "url" and `scope_note`, under the signature like every other field), and
whatever reads them can tell a URL check's `allowed` from a screening's.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from registry.merkle import canonical, chunk_leaf, root_of_leaves

ATTESTATION_TYPE = "consentry.url-check-attestation"
RUN_RECEIPT_TYPE = "consentry.url-run-receipt"
# Version 2 of both documents states the scope; version 1 (without it) still verifies.
SCOPED_VERSION = 2
URL_SCOPE = "url"
URL_SCOPE_NOTE = (
    "These answers are about the URLs only: no image was examined. An allowed URL is a listed "
    "source of works allowed for the purpose, not consent for the image downloaded from it; "
    "screen the downloaded images by fingerprint."
)
URL_MERKLE = {
    "tree": "RFC 6962: leaf SHA-256(0x00 || leaf), node SHA-256(0x01 || left || right)",
    "url_leaf": 'canonical JSON {"decision", "reason", "url", "works"}, URLs in the order asked',
}
RUN_MERKLE = {
    **URL_MERKLE,
    "batch_leaf": 'canonical JSON {"chunk": batch number, "items": URLs, "root"}, in order',
}


def url_leaf(url: str, decision: str, reason: str, work_ids: Iterable[int]) -> bytes:
    return canonical(
        {
            "decision": decision,
            "reason": reason,
            "url": url,
            "works": sorted(int(work_id) for work_id in work_ids),
        }
    )


def answers_root(answers: Sequence[Mapping[str, Any]]) -> str:
    """The root of a batch's answers as the API gives them (url as asked, decision, reason,
    works)."""
    return root_of_leaves(
        url_leaf(str(a["url"]), str(a["decision"]), str(a["reason"]), a.get("works") or [])
        for a in answers
    )


def scope_fields() -> dict[str, Any]:
    """What version 2 of an attestation and of a run's receipt adds: the answers' scope."""
    return {"scope": URL_SCOPE, "scope_note": URL_SCOPE_NOTE}


def states_scope(document: Mapping[str, Any]) -> bool:
    """Whether a document states its scope (version 2 and later must); raises ValueError when
    it should and does not say "url" with a note, so nothing reads it another way. The note's
    wording is the registry's to change: only that it is there is checked."""
    if int(document.get("version", 1)) < SCOPED_VERSION and "scope" not in document:
        return False
    note = document.get("scope_note")
    if document.get("scope") != URL_SCOPE or not isinstance(note, str) or not note:
        raise ValueError("the document does not state that its answers are about URLs only")
    return True


def run_document(
    attestations: Sequence[Mapping[str, Any]], *, source: str, url_column: str
) -> dict[str, Any]:
    """The run's summary over its batches' signed attestations (unsigned itself: each batch's
    attestation is what the registry signed)."""
    documents = [attestation["document"] for attestation in attestations]
    batches: list[tuple[int, int, str]] = [
        (number, int(document["urls"]), str(document["decisions_root"]))
        for number, document in enumerate(documents)
    ]
    counts: dict[str, int] = {}
    for document in documents:
        for decision, count in document["counts"].items():
            counts[decision] = counts.get(decision, 0) + int(count)
    first = documents[0] if documents else {}
    # A run's summary states the scope only when every batch signed it (so "signed" is true of
    # the whole run); a receipt of batches from before the scope keeps version 1 and verifies.
    scoped = all("scope" in document for document in documents)
    return {
        "type": RUN_RECEIPT_TYPE,
        "version": SCOPED_VERSION if scoped else 1,
        **(scope_fields() if scoped else {}),
        "merkle": RUN_MERKLE,
        "source": source,
        "url_column": url_column,
        "organization": first.get("organization"),
        "purpose": first.get("purpose"),
        "mode": first.get("mode"),
        "urls": sum(urls for _, urls, _ in batches),
        "counts": dict(sorted(counts.items())),
        "registry_versions": sorted(
            {int(document["registry_version"]["sequence"]) for document in documents}
        ),
        "batches": [list(batch) for batch in batches],
        "decisions_root": root_of_leaves(chunk_leaf(n, urls, root) for n, urls, root in batches),
    }
