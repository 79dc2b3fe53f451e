"""A platform's signed statement that one of its accounts uploaded a work.

Plain Python, so a platform, the registry and an auditor compute the same bytes. The platform
signs, with its own Ed25519 key, the domain tag below followed by the statement's canonical JSON
(sorted keys, no spaces, UTF-8). The registry keeps the statement, the signature and the
platform's public key in the ledger event. The platform's key itself is registered in the
ledger too (a `platform_settings_changed` event, appended when staff set it), so a check replays
which key was the platform's at each point and refuses an attestation signed by any other: an
operator who pastes their own key leaves a ledger event naming it, which auditors compare with the
key the platform itself publishes.
"""

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
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
    except (UnsupportedAlgorithm, ValueError):  # e.g. a lone surrogate, an unknown key type
        raise AttestationError("the attestation key is not a PEM-encoded key") from None


def verify_statement(statement: Mapping[str, Any], signature: str, public_pem: str) -> None:
    """Raise AttestationError unless `signature` is the key's over exactly this statement."""
    try:
        public_key = load_public_key(public_pem.encode())
        public_key.verify(base64.b64decode(signature, validate=True), statement_bytes(statement))
    except ReceiptError as error:
        raise AttestationError(str(error).replace("receipt key", "attestation key")) from None
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        raise AttestationError(
            "the signature is not the platform's key's signature over this statement"
        ) from None


@dataclass(frozen=True)
class BadAttestation:
    sequence: int
    reason: str
    # What the event recorded: a platform's attestation, or the key registered for a platform.
    subject: str = "platform attestation"


PLATFORM_SETTINGS_KIND = "platform_settings_changed"


def _key_id_of(public_pem: object) -> str:
    if not isinstance(public_pem, str):
        raise AttestationError("its public_key is not a PEM text")
    return public_key_id(public_pem)


class AttestationCheck:
    """Checks the ledger's platform events in order: each registered key must be a readable
    Ed25519 key with the key id recorded beside it, and each attestation must verify with the
    key it carries, which must be the platform's registered key at that point of the ledger."""

    def __init__(self) -> None:
        self.keys: dict[object, str] = {}  # platform id -> key id registered last

    def check(self, entry: LedgerEntry) -> BadAttestation | None:
        if entry.withheld:
            return None
        if entry.kind == PLATFORM_SETTINGS_KIND:
            return self._register(entry)
        attestation = (
            entry.payload.get("attestation") if entry.kind == "assurance_changed" else None
        )
        if attestation is None:
            return None
        try:
            self._verify(attestation)
        except AttestationError as error:
            return BadAttestation(entry.sequence, str(error))
        return None

    def _register(self, entry: LedgerEntry) -> BadAttestation | None:
        payload = entry.payload
        organization = payload.get("organization_id")
        public_pem, recorded = payload.get("public_key"), payload.get("key_id")
        if payload.get("kind") != "platform" or public_pem == "":
            self.keys.pop(organization, None)  # no longer a platform, or no key: none attests
            return None
        try:
            computed = _key_id_of(public_pem)
        except AttestationError as error:
            return BadAttestation(entry.sequence, str(error), "platform key")
        if recorded != computed:
            return BadAttestation(
                entry.sequence,
                f"its key_id {recorded!r} is not the key's id {computed}",
                "platform key",
            )
        self.keys[organization] = computed
        return None

    def _verify(self, attestation: object) -> None:
        if not isinstance(attestation, Mapping):
            raise AttestationError("the attestation is not a JSON object")
        statement, signature = attestation.get("statement"), attestation.get("signature")
        public_pem = attestation.get("public_key")
        if not isinstance(statement, Mapping):
            raise AttestationError("its statement is not a JSON object")
        if not isinstance(signature, str):
            raise AttestationError("its signature is not a base64 text")
        carried = _key_id_of(public_pem)
        verify_statement(statement, signature, str(public_pem))
        platform = attestation.get("platform_id")
        registered = self.keys.get(platform)
        if registered is None:
            raise AttestationError(
                f"platform {platform!r} had no attestation key registered in the ledger "
                "at this point"
            )
        if carried != registered:
            raise AttestationError(
                f"it is signed by key {carried}, but platform {platform!r}'s key registered "
                f"in the ledger at this point is {registered}"
            )


def first_bad_attestation(entries: Iterable[LedgerEntry]) -> BadAttestation | None:
    """The first ledger event recording a platform attestation, or a platform's key, that does
    not hold: the registry cannot have invented or altered a platform's claim without leaving
    a key registration in the ledger for auditors to compare with the platform's own."""
    check = AttestationCheck()
    for entry in entries:
        bad = check.check(entry)
        if bad is not None:
            return bad
    return None


# What a statement holds; nothing else may be signed into the ledger.
_TEXT_FIELDS = ("profile_url", "post_url", "issued_at")
_WORK_FIELDS = ("work", "sha256")  # work may narrow; sha256 is required, checked below
_SHA256_DIGITS = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Statement:
    artist: int
    work: int | None
    sha256: str
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
    unknown = sorted(set(statement) - {"artist", *_TEXT_FIELDS, *_WORK_FIELDS})
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
    # The platform never sees the registry's images: only the bytes its account uploaded bind
    # the statement to an image. A registry id alone would let an account that registered
    # someone else's picture have it attested by posting anything at all.
    if sha256 is None:
        raise StatementError(
            "sha256", "sha256 is required: the SHA-256 of the bytes the account uploaded."
        )
    if not (isinstance(sha256, str) and len(sha256) == 64 and set(sha256) <= _SHA256_DIGITS):
        raise StatementError("sha256", "sha256 must be 64 lower-case hex digits.")
    return Statement(
        artist=_positive_int(statement["artist"], "artist"),
        work=None if work is None else _positive_int(work, "work"),
        sha256=sha256,
        profile_url=statement["profile_url"],
        post_url=statement["post_url"],
        issued_at=statement["issued_at"],
    )
