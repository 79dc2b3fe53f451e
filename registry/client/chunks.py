"""Sending a screening's chunks: in two phases on the wire by default (hashes first, then the
verification payloads the registry asks for; registry.chunk_wire), as JSON when asked to or
when the registry does not take the binary bodies (it answers 415)."""

import json
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from registry.chunk_wire import (
    HASHES_MEDIA_TYPE,
    VERIFICATION_MEDIA_TYPE,
    content_digest,
    encode_hashes,
    encode_verification,
)
from registry.client.api import ApiError, Registry, checked
from registry.fingerprints import FingerprintFormatError, ImageFingerprint

WIRES = ("auto", "binary", "json")
# A work registered while a chunk is verified may add items to verify; never forever.
MAX_VERIFICATION_ROUNDS = 5
# Chunks in flight at once by default: while the registry searches one chunk's hashes, the
# client encodes the next, or sends the payloads of the one before. Two keep a 2-core
# registry's web processes and the client busy together; more only queue.
IN_FLIGHT = 2
_UNSUPPORTED_MEDIA_TYPE = 415


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def hashes_version(items: Sequence[Mapping[str, Any]]) -> int | None:
    """The one fingerprint version of the chunk's hashed items, or None when the binary
    layout cannot carry them as they are (fields missing, versions mixed, hex malformed) or
    an item's fingerprint is not one the registry accepts whole: phase 1 leaves out fields
    the registry would judge, so such a chunk goes as JSON, decided exactly as it was sent."""
    versions = set()
    for item in items:
        if "unreadable" in item:
            continue
        if not _carried_exactly(item) or not _well_formed(item):
            return None
        versions.add(item["version"])
    if len(versions) > 1:
        return None
    return next(iter(versions)) if versions else 0


def _well_formed(item: Mapping[str, Any]) -> bool:
    """Whether the registry's own parser takes the whole fingerprint (as its JSON would be)."""
    try:
        ImageFingerprint.from_wire(item)
    except FingerprintFormatError:
        return False
    return True


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**64


def _canonical_hex(value: Any, size: int | None) -> bool:
    """Hex the binary layout carries as bytes and the registry reads back as the same text."""
    if not isinstance(value, str) or (size is not None and len(value) != 2 * size):
        return False
    try:
        return bytes.fromhex(value).hex() == value  # lowercase, no spaces: as the JSON path reads
    except ValueError:
        return False


def _carried_exactly(item: Mapping[str, Any]) -> bool:
    """Whether the binary layout carries this item as the registry would read its JSON."""
    if any(name not in item for name in ImageFingerprint.WIRE_FIELDS):
        return False
    information = item["information"]
    return (
        all(_integer(item[name]) for name in ("version", "width", "height", "pdq_quality"))
        and isinstance(information, int | float)
        and not isinstance(information, bool)
        and all(
            _canonical_hex(item[name], size)
            for name, size in (("phash", 8), ("dhash", 8), ("sha256", 32))
        )
        and _canonical_hex(item["pdq"], None)
        and _canonical_hex(item["descriptor"], None)
        and _regions_carried_exactly(item.get("regions", []))
    )


def _regions_carried_exactly(regions: Any) -> bool:
    """Whether the binary layout carries the item's regions (fingerprints.regions) as the
    registry would read their JSON: boxes the registry checks, hashes as canonical hex."""
    return isinstance(regions, list) and all(
        isinstance(region, Mapping)
        and isinstance(region.get("box"), list)
        and _canonical_hex(region.get("phash"), 8)
        and _canonical_hex(region.get("dhash"), 8)
        and _canonical_hex(region.get("descriptor"), None)
        and (
            ("pdq" not in region and "pdq_quality" not in region)
            or (_canonical_hex(region.get("pdq"), None) and _integer(region.get("pdq_quality")))
        )
        for region in regions
    )


class ChunkSender:
    """Sends chunks of JSON-shaped items; counts the bytes it sent, by phase."""

    def __init__(
        self, registry: Registry, *, wire: str = "auto", say: Callable[[str], None] = _stderr
    ) -> None:
        if wire not in WIRES:
            raise ValueError(f"wire must be one of {', '.join(WIRES)}")
        self.registry, self.wire, self.say = registry, wire, say
        self.sent_bytes = {"json": 0, "hashes": 0, "verification": 0}
        self.verified_items = 0
        # Ids of items decided without their verification payload, which came too late.
        self.expired_items: list[str] = []
        # The counters above are shared by the threads of `send_all`.
        self._lock = threading.Lock()

    def send_all(
        self,
        screening_id: str,
        chunks: Iterable[tuple[int, Sequence[Mapping[str, Any]]]],
        *,
        in_flight: int = IN_FLIGHT,
    ) -> Iterator[int]:
        """Send every chunk, up to `in_flight` at a time, and yield each chunk's number once
        the registry has all it needs to decide it, in the order given: a caller records a
        chunk as sent only when it is yielded. A chunk that fails raises once the chunks
        before it are yielded; those after it that were in flight are finished or abandoned,
        never yielded, so a resumed run sends them again (which the registry answers with
        what it still needs, changing nothing). The first chunk goes alone: it settles which
        wire the registry takes."""
        pending = iter(chunks)
        first = next(pending, None)
        if first is None:
            return
        self.send(screening_id, *first)
        yield first[0]
        if in_flight <= 1:
            for number, items in pending:
                self.send(screening_id, number, items)
                yield number
            return
        with ThreadPoolExecutor(in_flight, thread_name_prefix="chunk") as pool:
            flying: deque[tuple[int, Future[None]]] = deque()
            try:
                for number, items in pending:
                    if len(flying) >= in_flight:
                        done, future = flying.popleft()
                        future.result()
                        yield done
                    flying.append((number, pool.submit(self.send, screening_id, number, items)))
                while flying:
                    done, future = flying.popleft()
                    future.result()
                    yield done
            finally:
                # Failed or abandoned by the caller: the chunks still in flight finish (a
                # request half sent is resent by the next run anyway), none is yielded.
                for _, future in flying:
                    future.cancel()

    def send(self, screening_id: str, number: int, items: Sequence[Mapping[str, Any]]) -> None:
        """Chunk `number` until the registry has everything it needs to decide it. Safe to
        repeat: the registry answers a chunk sent again with what it still needs."""
        if self.wire != "json":
            body = self._hashes_body(number, items)
            if body is not None and self._two_phase(screening_id, number, body, items):
                return
        data = {"number": number, "items": list(items)}
        body = json.dumps(data, allow_nan=False).encode()
        checked(self._post(f"screenings/{screening_id}/chunks", body, "application/json"))
        with self._lock:
            self.sent_bytes["json"] += len(body)

    def _hashes_body(self, number: int, items: Sequence[Mapping[str, Any]]) -> bytes | None:
        version = hashes_version(items)
        if version is None:
            return None
        try:
            return encode_hashes(number, version, items)
        # WireFormatError is a ValueError: information beyond a binary16, say.
        except (ValueError, TypeError, OverflowError):  # JSON carries what this cannot
            return None

    def _two_phase(
        self, screening_id: str, number: int, body: bytes, items: Sequence[Mapping[str, Any]]
    ) -> bool:
        """False when the registry does not take binary chunks (and `wire` allows JSON)."""
        response = self._post(f"screenings/{screening_id}/chunks", body, HASHES_MEDIA_TYPE)
        if response.status_code == _UNSUPPORTED_MEDIA_TYPE and self.wire != "binary":
            with self._lock:  # two chunks in flight may both learn it: said once
                if self.wire == "auto":
                    self.say("The registry does not take binary chunks; sending JSON.")
                    self.wire = "json"
            return False
        with self._lock:
            self.sent_bytes["hashes"] += len(body)
        verification = checked(response)["verification"]
        digest = content_digest(items)
        for _ in range(MAX_VERIFICATION_ROUNDS):
            self._report_expired(number, verification, items)
            needed = verification["needed"]
            if not needed:
                return True
            chosen = {position: items[position] for position in needed}
            payload = encode_verification(digest, chosen)
            path = f"screenings/{screening_id}/chunks/{number}/verification"
            answer = checked(self._post(path, payload, VERIFICATION_MEDIA_TYPE))
            with self._lock:
                self.sent_bytes["verification"] += len(payload)
                self.verified_items += len(needed)
            verification = answer["verification"]
        raise ApiError(
            f"chunk {number} still needs verification after {MAX_VERIFICATION_ROUNDS} rounds; "
            "run the same command again to resume"
        )

    def _report_expired(
        self, number: int, verification: Mapping[str, Any], items: Sequence[Mapping[str, Any]]
    ) -> None:
        """Tell the user which items the registry decided `invalid` because their payload came
        too late (the run was stopped too long between the phases); they stay so."""
        expired = [items[position]["id"] for position in verification.get("expired") or []]
        if not expired:
            return
        with self._lock:
            self.expired_items.extend(expired)
        shown = ", ".join(expired[:5]) + (", ..." if len(expired) > 5 else "")
        self.say(
            f"Chunk {number}: the registry decided {len(expired)} item(s) `invalid` because "
            f"their verification payloads came too late ({shown}); screen them again in a new "
            "screening."
        )

    def _post(self, path: str, body: bytes, media_type: str) -> Any:
        return self.registry.request("POST", path, data=body, headers={"Content-Type": media_type})
