"""The Merkle tree of decisions is RFC 6962's: the same roots as its recursive definition, and
a path proves exactly one leaf at one position."""

import hashlib

import pytest

from registry.merkle import (
    EMPTY_ROOT,
    ProofError,
    audit_path,
    canonical,
    decision_leaf,
    leaf_hash,
    node_hash,
    root_from_path,
    root_of,
)
from registry.unlisted import Unlisted, decode, encode, runs
from registry.url_receipts import url_leaf


def _rfc6962_root(leaves: list[bytes]) -> bytes:
    """MTH as RFC 6962 section 2.1 writes it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    left, right = _rfc6962_root(leaves[:split]), _rfc6962_root(leaves[split:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def _leaves(count: int) -> list[bytes]:
    return [f"item {n}".encode() for n in range(count)]


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 7, 8, 9, 16, 17, 31])
def test_roots_are_rfc_6962s(count):
    leaves = _leaves(count)
    assert root_of([leaf_hash(leaf) for leaf in leaves]) == _rfc6962_root(leaves)


def test_a_leaf_and_a_node_of_the_same_bytes_hash_apart():
    left, right = b"a" * 32, b"b" * 32
    assert leaf_hash(left + right) != node_hash(left, right)
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


def _proves(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    try:
        return root_from_path(leaf, index, size, path) == root
    except ProofError:
        return False


@pytest.mark.parametrize("count", [1, 2, 3, 6, 13])
def test_every_leafs_path_leads_to_the_root_and_no_other_leaf_does(count):
    leaves = _leaves(count)
    hashes = [leaf_hash(leaf) for leaf in leaves]
    root = root_of(hashes)
    for index, leaf in enumerate(leaves):
        path = audit_path(hashes, index)
        assert _proves(leaf, index, count, path, root)
        assert not _proves(b"forged", index, count, path, root)
        if count > 1:  # the same leaf claimed at another position does not prove
            assert not _proves(leaf, (index + 1) % count, count, path, root)


def test_a_path_of_the_wrong_length_is_refused():
    hashes = [leaf_hash(leaf) for leaf in _leaves(5)]
    path = audit_path(hashes, 2)
    with pytest.raises(ProofError):
        root_from_path(b"item 2", 2, 5, path[:-1])
    with pytest.raises(ProofError):
        root_from_path(b"item 2", 2, 5, [*path, path[0]])
    with pytest.raises(ProofError):
        root_from_path(b"item 2", 5, 5, path)


def test_unlisted_decisions_come_back_by_position_in_a_few_bytes():
    entries: list[Unlisted | None] = [
        Unlisted(n, "unregistered", "no registered work matches") for n in range(10_000)
    ]
    entries[3] = None
    entries[7] = Unlisted(7, "invalid", "malformed fingerprint: phash is not hex")
    blob = encode(entries)

    decoded = list(decode(blob))
    assert len(decoded) == 9_999 and len(blob) < 200
    assert decoded[6] == Unlisted(7, "invalid", "malformed fingerprint: phash is not hex")
    assert runs(blob) == [
        (0, 3, "unregistered", "no registered work matches"),
        (4, 3, "unregistered", "no registered work matches"),
        (7, 1, "invalid", "malformed fingerprint: phash is not hex"),
        (8, 9_992, "unregistered", "no registered work matches"),
    ]


TRICKY = ["plain", 'quo"te\\', "line\nbreak\x01", "中文 é \u2028", "emoji 🦊", ""]


@pytest.mark.parametrize("text", TRICKY)
def test_leaves_are_the_canonical_json_they_are_documented_as(text):
    assert decision_leaf(text, "invalid", text, [12, 3], None) == canonical(
        {"decision": "invalid", "id": text, "reason": text, "sha256": None, "works": [3, 12]}
    )
    assert decision_leaf("a", "allowed", "r" * 600, [], "ab") == canonical(
        {"decision": "allowed", "id": "a", "reason": "r" * 500, "sha256": "ab", "works": []}
    )
    assert url_leaf(text, "unknown", text, [5]) == canonical(
        {"decision": "unknown", "reason": text, "url": text, "works": [5]}
    )
