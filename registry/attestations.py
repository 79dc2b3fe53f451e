"""A platform's signed statement that one of its accounts uploaded a work.

Plain Python, so a platform, the registry and an auditor compute the same bytes. The platform
signs, with its own Ed25519 key, the domain tag below followed by the statement's canonical JSON
(sorted keys, no spaces, UTF-8). The registry keeps the statement, the signature and the
platform's public key in the ledger event, so anyone can later check that the platform, not the
registry, made the claim.
"""

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.ledger import LedgerEntry
from registry.receipts import ReceiptError, canonical_json, key_id, load_public_key

# Separates these signatures from any other the platform's key may make (a receipt, a token).
DOMAIN = b"consentry platform attestation v1\n"


class AttestationError(ValueError):
    """A signature that does not verify, or a public key that cannot be read."""


def statement_bytes(statement: Mapping[str, Any]) -> bytes:
    return DOMAIN + canonical_json(statement)


def sign_statement(statement: Mapping[str, Any], private_key: Ed25519PrivateKey) -> str:
    """What a platform sends as `signature` (base64); the registry never holds this key."""
    return base64.b64encode(private_key.sign(statement_bytes(statement))).decode("ascii")


def public_key_id(public_pem: str) -> str:
    try:
        return key_id(load_public_key(public_pem.encode()))
    except ReceiptError as error:
        raise AttestationError(str(error).replace("receipt key", "attestation key")) from None


def verify_statement(statement: Mapping[str, Any], signature: str, public_pem: str) -> None:
    """Raise AttestationError unless `signature` is the key's over exactly this statement."""
    try:
        public_key = load_public_key(public_pem.encode())
        public_key.verify(base64.b64decode(signature, validate=True), statement_bytes(statement))
    except ReceiptError as error:
        raise AttestationError(str(error).replace("receipt key", "attestation key")) from None
    except (InvalidSignature, ValueError):
        raise AttestationError(
            "the signature is not the platform's key's signature over this statement"
        ) from None


@dataclass(frozen=True)
class BadAttestation:
    sequence: int
    reason: str


def first_bad_attestation(entries: Iterable[LedgerEntry]) -> BadAttestation | None:
    """The first ledger event recording a platform attestation whose signature does not verify
    with the key it names: the registry cannot have invented or altered a platform's claim."""
    for entry in entries:
        attestation = (
            entry.payload.get("attestation") if entry.kind == "assurance_changed" else None
        )
        if not isinstance(attestation, Mapping):
            continue
        try:
            verify_statement(
                attestation["statement"], attestation["signature"], attestation["public_key"]
            )
        except (AttestationError, KeyError, TypeError) as error:
            return BadAttestation(entry.sequence, str(error))
    return None


# What a statement holds; nothing else may be signed into the ledger.
_TEXT_FIELDS = ("profile_url", "post_url", "issued_at")
_OPTIONAL_FIELDS = ("work", "sha256")
_SHA256_DIGITS = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Statement:
    artist: int
    work: int | None
    sha256: str | None
    profile_url: str
    post_url: str
    issued_at: str


class StatementError(ValueError):
    """A statement that is not of the documented shape; `field` names the part at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _positive_int(value: object, field: str) -> int:
    # bool is an int to Python, and 1.0 is not an id: only a JSON integer names a row.
    if type(value) is not int or value < 1:
        raise StatementError(field, f"{field} must be a positive integer (a registry id).")
    return value


def _storable_text(value: object) -> bool:
    """Text the ledger can hold: PostgreSQL's JSON refuses NUL and lone surrogates, and no
    URL or time has control characters."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        return False
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_statement(statement: object) -> Statement:
    """The statement's fields, checked exactly as signed (no trimming, no coercion)."""
    if not isinstance(statement, Mapping):
        raise StatementError("statement", "statement must be a JSON object.")
    unknown = sorted(set(statement) - {"artist", *_TEXT_FIELDS, *_OPTIONAL_FIELDS})
    if unknown:
        raise StatementError("statement", f"Unknown fields in the statement: {', '.join(unknown)}.")
    for field in ("artist", *_TEXT_FIELDS):
        if field not in statement:
            raise StatementError(field, f"{field} is required.")
    for field in _TEXT_FIELDS:
        if not _storable_text(statement[field]):
            raise StatementError(
                field, f"{field} must be a non-empty string without control characters."
            )
    work = statement.get("work")
    sha256 = statement.get("sha256")
    if work is None and sha256 is None:
        raise StatementError("work", "Name the work: its registry id (work) or sha256.")
    if sha256 is not None and not (
        isinstance(sha256, str) and len(sha256) == 64 and set(sha256) <= _SHA256_DIGITS
    ):
        raise StatementError("sha256", "sha256 must be 64 lower-case hex digits.")
    return Statement(
        artist=_positive_int(statement["artist"], "artist"),
        work=None if work is None else _positive_int(work, "work"),
        sha256=sha256,
        profile_url=statement["profile_url"],
        post_url=statement["post_url"],
        issued_at=statement["issued_at"],
    )
