"""Signed receipts of screenings, in plain Python so anyone can verify one offline.

A receipt is a JSON document; its signature is Ed25519 over the receipt's canonical encoding
(sorted keys, no spaces, UTF-8). The registry's public key is served at /api/v1/receipts/key.
"""

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class ReceiptError(ValueError):
    """A receipt whose signature does not verify, or a key that cannot be read."""


def canonical_json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decisions_digest(lines: Iterable[str]) -> str:
    """SHA-256 over one line per decided item, in the order the items were sent."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def decision_line(item_id: str, decision: str, work_ids: Iterable[int]) -> str:
    """Version 1 (receipts of version 1): what was decided, not about which image."""
    return canonical_json({"id": item_id, "decision": decision, "works": sorted(work_ids)}).decode()


# Version 2 binds each decision to the SHA-256 of the image it was made for, so an item id
# cannot later be claimed for another file.
BOUND_DIGEST_VERSION = 2


def bound_decision_line(
    item_id: str, decision: str, work_ids: Iterable[int], sha256: str | None
) -> str:
    document = {"id": item_id, "decision": decision, "works": sorted(work_ids), "sha256": sha256}
    return canonical_json(document).decode()


# Version 3 commits to every decision with a Merkle tree (registry/merkle.py): each chunk's
# root is in the receipt, so one item's decision is proved by its path alone.
MERKLE_DIGEST_VERSION = 3
MERKLE_DESCRIPTION = {
    "tree": "RFC 6962: leaf SHA-256(0x00 || leaf), node SHA-256(0x01 || left || right)",
    "item_leaf": 'canonical JSON {"decision", "id", "reason", "sha256", "works"}, '
    "items in the order sent",
    "chunk_leaf": 'canonical JSON {"chunk", "items", "root"}, chunks in number order',
}


def chunks_digest(chunks: Iterable[tuple[int, str]]) -> str:
    """The receipt's decisions digest: one line per chunk, number and digest, in order."""
    return decisions_digest(f"{number}:{digest}" for number, digest in chunks)


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(document: Mapping[str, Any], private_key: Ed25519PrivateKey) -> str:
    return base64.b64encode(private_key.sign(canonical_json(document))).decode("ascii")


def verify(document: Mapping[str, Any], signature: str, public_key: Ed25519PublicKey) -> None:
    """Raise ReceiptError unless the signature is the key's over exactly this document."""
    try:
        public_key.verify(base64.b64decode(signature, validate=True), canonical_json(document))
    except (InvalidSignature, ValueError) as error:
        raise ReceiptError("the receipt's signature does not match its content") from error


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ReceiptError("the receipt signing key must be an Ed25519 private key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as error:
        raise ReceiptError("the public key is not a PEM-encoded key") from error
    if not isinstance(key, Ed25519PublicKey):
        raise ReceiptError("the receipt key must be an Ed25519 public key")
    return key


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def new_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
