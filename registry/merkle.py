"""Merkle trees over screening decisions, in plain Python: the server, the client and anyone
checking a receipt offline compute the same roots.

The tree is RFC 6962's (Certificate Transparency), with its domain separation, so that a leaf
can never be passed off as an inner node or the reverse:

    leaf hash  = SHA-256(0x00 || leaf bytes)
    node hash  = SHA-256(0x01 || left hash || right hash)
    MTH({})    = SHA-256("")
    MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two below n

A chunk's leaves are its items in the order they were sent. One item's leaf is the canonical
JSON (sorted keys, no spaces, UTF-8) of

    {"decision": ..., "id": ..., "reason": ..., "sha256": ..., "works": [...]}

`reason` is the reason text as the API returns it (at most 500 characters), `works` the matched
work ids in ascending order, `sha256` the image's SHA-256 as sent (null when it had none). The
screening's root covers its chunks in number order, one leaf per chunk:
{"chunk": number, "items": count, "root": the chunk's root in hex}.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

LEAF_PREFIX, NODE_PREFIX = b"\x00", b"\x01"
# What the API keeps of a reason; a leaf commits to exactly what the client is told.
MAX_REASON_LENGTH = 500
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not lead from its leaf to the root it claims."""


# One encoder for every leaf: json.dumps with options builds a new one per call, and a chunk
# has 10,000 leaves.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(document: Any) -> bytes:
    return _CANONICAL.encode(document).encode()


def decision_leaf(
    item_id: str, decision: str, reason: str, work_ids: Iterable[int], sha256: str | None
) -> bytes:
    return canonical(
        {
            "decision": decision,
            "id": item_id,
            "reason": reason[:MAX_REASON_LENGTH],
            "sha256": sha256,
            "works": sorted(int(work_id) for work_id in work_ids),
        }
    )


def chunk_leaf(number: int, items: int, root: str) -> bytes:
    return canonical({"chunk": number, "items": items, "root": root})


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _levels(hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first. Pairing left to right and carrying an odd last
    node up unhashed builds exactly RFC 6962's tree."""
    levels = [list(hashes)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


def root_of(hashes: Sequence[bytes]) -> bytes:
    if not hashes:
        return EMPTY_ROOT
    return _levels(hashes)[-1][0]


def root_of_leaves(leaves: Iterable[bytes]) -> str:
    return root_of([leaf_hash(leaf) for leaf in leaves]).hex()


def audit_path(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The sibling hashes from leaf `index` up to the root (RFC 6962's PATH)."""
    if not 0 <= index < len(hashes):
        raise ProofError(f"leaf {index} is not in a tree of {len(hashes)} leaves")
    path: list[bytes] = []
    for level in _levels(hashes)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root that `path` leads to from `leaf` at `index` in a tree of `size` leaves."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    current, remaining = leaf_hash(leaf), list(path)
    while size > 1:
        if index % 2 or index + 1 < size:
            if not remaining:
                raise ProofError("the proof is too short for the tree it names")
            sibling = remaining.pop(0)
            current = node_hash(sibling, current) if index % 2 else node_hash(current, sibling)
        index, size = index // 2, (size + 1) // 2
    if remaining:
        raise ProofError("the proof is longer than the tree it names")
    return current


@dataclass(frozen=True)
class ItemProof:
    """One item's decision, the path to its chunk's root, and the chunk's path to the
    screening's root: with the signed receipt, all anyone needs to check that decision."""

    leaf: bytes
    chunk: int
    index: int
    items: int
    path: list[bytes]
    chunk_index: int
    chunks: int
    chunk_path: list[bytes]

    def as_dict(self) -> dict[str, Any]:
        return {
            "leaf": json.loads(self.leaf),
            "chunk": self.chunk,
            "index": self.index,
            "items": self.items,
            "path": [node.hex() for node in self.path],
            "chunk_index": self.chunk_index,
            "chunks": self.chunks,
            "chunk_path": [node.hex() for node in self.chunk_path],
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> "ItemProof":
        try:
            return cls(
                leaf=canonical(document["leaf"]),
                chunk=int(document["chunk"]),
                index=int(document["index"]),
                items=int(document["items"]),
                path=[bytes.fromhex(node) for node in document["path"]],
                chunk_index=int(document["chunk_index"]),
                chunks=int(document["chunks"]),
                chunk_path=[bytes.fromhex(node) for node in document["chunk_path"]],
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ProofError(f"not a proof of an item's decision ({error})") from None

    def roots(self) -> tuple[str, str]:
        """(the chunk's root, the screening's root) this proof leads to."""
        chunk_root = root_from_path(self.leaf, self.index, self.items, self.path).hex()
        top = root_from_path(
            chunk_leaf(self.chunk, self.items, chunk_root),
            self.chunk_index,
            self.chunks,
            self.chunk_path,
        )
        return chunk_root, top.hex()
