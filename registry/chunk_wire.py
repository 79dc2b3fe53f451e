"""Two-phase screening chunks on the wire: the MessagePack bodies, encoded by the client and
decoded by the server into the same item objects the JSON API takes. Plain Python, no Django.

Phase 1, `application/vnd.consentry.hashes+msgpack`, one MessagePack map per chunk:

    number       int    the chunk number, as in the JSON body
    version      int    the fingerprint version of every hashed item
    ids          array  N strings, the item ids (1 to 512 characters, unique in the chunk)
    hashes       bin    48 x N bytes: per item pHash (8 bytes, big-endian), dHash (8), SHA-256 (32)
    information  bin    4 x N bytes: per item its information, IEEE-754 float32 big-endian
    extra        map    optional, position -> map of the item's other fields: url, headers,
                        embedded, user_agent, or unreadable (its hashes are then ignored)
    regions      map    optional, position -> bin, 24 bytes per region of the item (at most 4,
                        fingerprints.regions): its box (left, top, right, bottom in thousandths,
                        4 x uint16 big-endian), pHash (8 bytes), dHash (8), in the item's order

An item without extra fields or regions costs 53 bytes plus its id: 64 bytes for an id of 11
characters; each region adds 24. The registry answers which positions it needs phase 2 for:
items with a candidate work (found by the item's pHash or dHash, by a region's pHash, or by the
SHA-256; a region's dHash-only candidates are never verified, so they ask for nothing) and
items whose float32 information is too close to the weak-image threshold to decide on. The
others it decides from phase 1 alone. Hashes within the search radius of some registered
variant by chance are candidates too: a stranger's are, at a million works (about 18 codes
indexed per work, 10 bits of 64), about one time in six (docs/benchmarks.md, economy).

Phase 2, `application/vnd.consentry.verification+msgpack`, one map per chunk:

    digest       bin    32 bytes: the content digest of the chunk these payloads complete
                        (SHA-256 of its items' ids and hashes, regions' too, `content_digest`)
    items        array  per item [position, information (float64), width, height,
                        pdq (bin, 32 bytes), pdq_quality, descriptor (bin, 963 bytes)], and
                        for an item whose hashes carried regions an eighth value: the array of
                        its regions' descriptors (bin, 963 bytes each), one per region, in order;
                        and when one of its regions has a PDQ (the untrimmed frame's) a ninth:
                        per region in order, nil or [pdq (bin, 32 bytes), pdq_quality]

A chunk number stands for one content: sent again (as hashes or JSON) with other items, or
completed by payloads naming another digest, it is refused. A client puts in a hashes body
only items that `ImageFingerprint.from_wire` accepts whole; the registry cannot check the
fields phase 1 leaves out, so where an unregistered item passes (a screening that respects
opt-outs) it asks for every item's payload, and decides none from its hashes alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack

from registry.fingerprints.regions import MAX_REGIONS

HASHES_MEDIA_TYPE = "application/vnd.consentry.hashes+msgpack"
VERIFICATION_MEDIA_TYPE = "application/vnd.consentry.verification+msgpack"
HASH_BYTES = 8 + 8 + 32
INFORMATION_BYTES = 4
DIGEST_BYTES = 32
# The fields phase 1 leaves out and phase 2 brings (information again, exactly).
VERIFICATION_FIELDS = ("information", "width", "height", "pdq", "pdq_quality", "descriptor")
EXTRA_FIELDS = ("url", "headers", "embedded", "user_agent", "unreadable")
# A region in phase 1: its box (4 x uint16) and its pHash and dHash.
_REGION = struct.Struct(">4H8s8s")
# Phase 2's name for the regions' descriptors of an item, in its regions' order.
REGION_DESCRIPTORS = "region_descriptors"
# And for their PDQs: per region, None or (pdq hex, pdq_quality).
REGION_PDQS = "region_pdqs"
MAX_ID_LENGTH = 512
# A float32 lies within 2**-24 of the value it stands for (relative): a threshold that close
# might fall between the two, and only the exact value (phase 2) decides.
_FLOAT32_MARGIN = 2.0**-20


class WireFormatError(ValueError):
    """A body that does not follow the layout; the message says where."""


class TooManyItems(WireFormatError):
    """More items than one request may carry."""


def unpack(body: bytes) -> Any:
    """A MessagePack body as Python objects: bytes stay bytes, text is UTF-8."""
    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=False, use_list=True)
    except (ValueError, msgpack.UnpackException, TypeError, RecursionError) as error:
        # ExtraData, FormatError and StackError are ValueErrors; a truncated body is too.
        raise WireFormatError(f"the body is not one MessagePack value ({error})") from None


def information_undecided(value: float, threshold: float) -> bool:
    """Whether a float32 information cannot say which side of `threshold` the exact one is."""
    if not math.isfinite(value) or value == 0:  # 0 may be a tiny or negative value rounded
        return True
    return abs(value - threshold) <= max(abs(threshold), 1.0) * _FLOAT32_MARGIN


# --- phase 1 -----------------------------------------------------------------------------------


def encode_hashes(number: int, version: int, items: Sequence[Mapping[str, Any]]) -> bytes:
    """Phase 1 of a chunk of JSON-shaped client items (fingerprint fields, or `unreadable`)."""
    ids: list[str] = []
    hashes, information = bytearray(), bytearray()
    extra: dict[int, dict[str, Any]] = {}
    regions: dict[int, bytes] = {}
    for position, item in enumerate(items):
        ids.append(item["id"])
        fields = {name: item[name] for name in EXTRA_FIELDS if name in item}
        if "unreadable" in item:
            hashes += bytes(HASH_BYTES)
            information += bytes(INFORMATION_BYTES)
        else:
            hashes += bytes.fromhex(item["phash"]) + bytes.fromhex(item["dhash"])
            hashes += bytes.fromhex(item["sha256"])
            information += _float32(item["information"])
            if item.get("regions"):
                regions[position] = b"".join(_region_bytes(region) for region in item["regions"])
        if fields:
            extra[position] = fields
    body: dict[str, Any] = {
        "number": number,
        "version": version,
        "ids": ids,
        "hashes": bytes(hashes),
        "information": bytes(information),
    }
    if extra:
        body["extra"] = extra
    if regions:
        body["regions"] = regions
    return msgpack.packb(body, use_bin_type=True)


def _region_bytes(region: Mapping[str, Any]) -> bytes:
    try:
        return _REGION.pack(
            *region["box"], bytes.fromhex(region["phash"]), bytes.fromhex(region["dhash"])
        )
    except struct.error as error:  # a box beyond uint16, or too few values
        raise WireFormatError(f"a region does not fit the binary layout ({error})") from None


def _float32(value: float) -> bytes:
    try:
        return struct.pack(">f", value)
    except OverflowError:  # beyond float32 it would arrive infinite, and be decided `invalid`
        raise WireFormatError(f"information {value!r} does not fit a float32") from None


def content_digest(items: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 (hex) of what a chunk is: its items' ids, and for each readable one its
    SHA-256, pHash and dHash as sent; the same for the JSON and the binary form of one chunk
    (the client sends hashes as binary only when their hex is canonical)."""
    rows = [
        [item.get("id"), True]
        if "unreadable" in item
        else [
            item.get("id"),
            False,
            item.get("sha256"),
            item.get("phash"),
            item.get("dhash"),
            *_searched_regions(item),
        ]
        for item in items
    ]
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _searched_regions(item: Mapping[str, Any]) -> list[Any]:
    """What the search reads of an item's regions (their boxes and hashes, as sent), when it
    has any: an item without regions keeps the digest it had before regions existed."""
    if "regions" not in item:
        return []
    regions = item["regions"]
    if not isinstance(regions, list):
        return [regions]
    return [
        [region.get(name) for name in ("box", "phash", "dhash")]
        if isinstance(region, Mapping)
        else region
        for region in regions
    ]


def _json_like(value: Any) -> bool:
    """Whether a decoded value is one JSON could have carried: no bytes, no extension types,
    map keys that are text. A walk, not recursion (MessagePack nests deeper than Python)."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, Mapping):
            if not all(isinstance(key, str) for key in current):
                return False
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
        elif current is not None and not isinstance(current, str | int | float | bool):
            return False
    return True


def _field(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    if name not in body:
        raise WireFormatError(f"the body has no {name!r} ({what}).")
    value = body[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise WireFormatError(f"{name!r} must be {what}.")
    return value


def decode_hashes(body: Any, *, max_items: int) -> tuple[int, list[dict[str, Any]]]:
    """The chunk number and its items as the JSON API has them, less the verification
    fields (`information` is the float32 sent); raises WireFormatError."""
    if not isinstance(body, Mapping):
        raise WireFormatError("the body must be a MessagePack map.")
    number = _field(body, "number", int, "an integer, the chunk number")
    version = _field(body, "version", int, "an integer, the fingerprint version")
    ids = _field(body, "ids", list, "an array of item id strings")
    if not ids:
        raise WireFormatError("a chunk needs at least one item.")
    if len(ids) > max_items:
        raise TooManyItems(
            f"{len(ids)} items is more than the {max_items} allowed per request; send them "
            "in chunks."
        )
    hashes = _field(body, "hashes", bytes, f"binary, {HASH_BYTES} bytes an item")
    information = _field(body, "information", bytes, f"binary, {INFORMATION_BYTES} bytes an item")
    for name, value, size in (("hashes", hashes, HASH_BYTES), ("information", information, 4)):
        if len(value) != size * len(ids):
            raise WireFormatError(
                f"{name!r} holds {len(value)} bytes; {len(ids)} items need {size * len(ids)}."
            )
    extra = _extra(body.get("extra", {}), len(ids))
    regions = _regions(body.get("regions", {}), len(ids))
    values = struct.unpack(f">{len(ids)}f", information)
    items = []
    for position, item_id in enumerate(ids):
        if not isinstance(item_id, str):
            raise WireFormatError(f"id {position} must be a string.")
        fields = extra.get(position, {})
        if "unreadable" in fields:
            if position in regions:
                raise WireFormatError(f"position {position} is unreadable and has regions.")
            items.append({"id": item_id, **fields})
            continue
        start = position * HASH_BYTES
        item = {
            "id": item_id,
            "version": version,
            "sha256": hashes[start + 16 : start + 48].hex(),
            "phash": hashes[start : start + 8].hex(),
            "dhash": hashes[start + 8 : start + 16].hex(),
            "information": values[position],
            **fields,
        }
        if position in regions:
            item["regions"] = regions[position]
        items.append(item)
    return number, items


def _regions(value: Any, count: int) -> dict[int, list[dict[str, Any]]]:
    """position -> the item's regions as the JSON API has them, less their descriptors."""
    if not isinstance(value, Mapping):
        raise WireFormatError("'regions' must be a map from item position to binary.")
    regions: dict[int, list[dict[str, Any]]] = {}
    for position, packed in value.items():
        if isinstance(position, bool) or not isinstance(position, int):
            raise WireFormatError("'regions' keys must be item positions (integers).")
        if not 0 <= position < count:
            raise WireFormatError(f"'regions' names position {position}, outside 0 to {count - 1}.")
        if (
            not isinstance(packed, bytes)
            or not packed
            or len(packed) % _REGION.size
            or len(packed) > MAX_REGIONS * _REGION.size
        ):
            raise WireFormatError(
                f"'regions' of position {position} must be binary, {_REGION.size} bytes for "
                f"each of 1 to {MAX_REGIONS} regions."
            )
        regions[position] = [
            {"box": [left, top, right, bottom], "phash": phash.hex(), "dhash": dhash.hex()}
            for left, top, right, bottom, phash, dhash in _REGION.iter_unpack(packed)
        ]
    return regions


def _extra(value: Any, count: int) -> dict[int, dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise WireFormatError("'extra' must be a map from item position to its fields.")
    extra: dict[int, dict[str, Any]] = {}
    for position, fields in value.items():
        if isinstance(position, bool) or not isinstance(position, int):
            raise WireFormatError("'extra' keys must be item positions (integers).")
        if not 0 <= position < count:
            raise WireFormatError(f"'extra' names position {position}, outside 0 to {count - 1}.")
        if not isinstance(fields, Mapping) or not fields:
            raise WireFormatError(f"'extra' of position {position} must be a non-empty map.")
        unknown = sorted(str(name) for name in fields if name not in EXTRA_FIELDS)
        if unknown:
            raise WireFormatError(
                f"'extra' of position {position} has {', '.join(unknown)[:200]}; it may hold "
                f"{', '.join(EXTRA_FIELDS)}."
            )
        if "unreadable" in fields and not isinstance(fields["unreadable"], str):
            raise WireFormatError(f"'unreadable' of position {position} must be a string.")
        if not _json_like(fields):
            raise WireFormatError(
                f"'extra' of position {position} may hold text, numbers, booleans, nil, "
                "arrays and maps with text keys, nothing binary."
            )
        extra[position] = dict(fields)
    return extra


# --- phase 2 -----------------------------------------------------------------------------------


def encode_verification(digest: str, payloads: Mapping[int, Mapping[str, Any]]) -> bytes:
    """Phase 2 of the chunk whose `content_digest` is `digest`: for each position the
    registry named, its item's verification fields."""
    rows = [
        [
            position,
            float(item["information"]),
            item["width"],
            item["height"],
            bytes.fromhex(item["pdq"]),
            item["pdq_quality"],
            bytes.fromhex(item["descriptor"]),
            *_region_descriptors(item),
        ]
        for position, item in sorted(payloads.items())
    ]
    return msgpack.packb({"digest": bytes.fromhex(digest), "items": rows}, use_bin_type=True)


def _region_descriptors(item: Mapping[str, Any]) -> list[Any]:
    """The eighth value of an item's row, its regions' descriptors, when it has regions; and
    the ninth, their PDQs, when one of them has a PDQ."""
    regions = item.get("regions")
    if not regions:
        return []
    row: list[Any] = [[bytes.fromhex(region["descriptor"]) for region in regions]]
    if any("pdq" in region for region in regions):
        row.append(
            [
                [bytes.fromhex(region["pdq"]), region["pdq_quality"]] if "pdq" in region else None
                for region in regions
            ]
        )
    return row


_ROW: tuple[tuple[str, type | tuple[type, ...], str], ...] = (
    ("position", int, "an integer"),
    ("information", (int, float), "a number"),
    ("width", int, "an integer"),
    ("height", int, "an integer"),
    ("pdq", bytes, "binary"),
    ("pdq_quality", int, "an integer"),
    ("descriptor", bytes, "binary"),
)


def decode_verification(body: Any, *, max_items: int) -> tuple[str, dict[int, dict[str, Any]]]:
    """The content digest the payloads name (hex), and position -> the verification fields
    as the JSON API has them (hex for binary)."""
    if not isinstance(body, Mapping):
        raise WireFormatError("the body must be a MessagePack map.")
    digest = _field(
        body, "digest", bytes, "binary, the 32-byte content digest of the chunk it completes"
    )
    if len(digest) != DIGEST_BYTES:
        raise WireFormatError(f"'digest' holds {len(digest)} bytes; it needs {DIGEST_BYTES}.")
    what = "an array of [position, information, width, height, pdq, pdq_quality, descriptor]"
    rows = _field(body, "items", list, what)
    if not rows:
        raise WireFormatError("'items' needs at least one item.")
    if len(rows) > max_items:
        raise TooManyItems(f"{len(rows)} items is more than the {max_items} a chunk holds.")
    payloads: dict[int, dict[str, Any]] = {}
    for number, row in enumerate(rows):
        if not isinstance(row, list) or not len(_ROW) <= len(row) <= len(_ROW) + 2:
            raise WireFormatError(
                f"item {number} must be an array of {len(_ROW)} values, {len(_ROW) + 1} with "
                f"its regions' descriptors, or {len(_ROW) + 2} with their PDQs too."
            )
        for (name, kind, what), value in zip(_ROW, row[: len(_ROW)], strict=True):
            if isinstance(value, bool) or not isinstance(value, kind):
                raise WireFormatError(f"item {number}: {name} must be {what}.")
        position = row[0]
        if position in payloads:
            raise WireFormatError(f"position {position} appears twice.")
        payloads[position] = {
            "information": float(row[1]),
            "width": row[2],
            "height": row[3],
            "pdq": row[4].hex(),
            "pdq_quality": row[5],
            "descriptor": row[6].hex(),
        }
        if len(row) > len(_ROW):
            payloads[position][REGION_DESCRIPTORS] = _decoded_descriptors(number, row[len(_ROW)])
        if len(row) > len(_ROW) + 1:
            payloads[position][REGION_PDQS] = _decoded_pdqs(number, row[-1])
    return digest.hex(), payloads


def _decoded_descriptors(number: int, value: Any) -> list[str]:
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_REGIONS
        or not all(isinstance(descriptor, bytes) for descriptor in value)
    ):
        raise WireFormatError(
            f"item {number}: its regions' descriptors must be an array of 1 to {MAX_REGIONS} "
            "binary values."
        )
    return [descriptor.hex() for descriptor in value]


def _decoded_pdqs(number: int, value: Any) -> list[tuple[str, int] | None]:
    what = (
        f"item {number}: its regions' PDQs must be an array of 1 to {MAX_REGIONS} values, each "
        "nil or [pdq (binary), pdq_quality (an integer)]."
    )
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_REGIONS:
        raise WireFormatError(what)
    pdqs: list[tuple[str, int] | None] = []
    for entry in value:
        if entry is None:
            pdqs.append(None)
            continue
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not isinstance(entry[0], bytes)
            or isinstance(entry[1], bool)
            or not isinstance(entry[1], int)
        ):
            raise WireFormatError(what)
        pdqs.append((entry[0].hex(), entry[1]))
    return pdqs


def pack_payloads(payloads: Mapping[int, Mapping[str, Any]]) -> bytes:
    """Verification payloads as decode_verification gives them, for the registry to keep
    until their chunk is decided: binary where the wire is (half the size of their hex)."""
    return msgpack.packb(
        {
            position: [
                payload["information"],
                payload["width"],
                payload["height"],
                bytes.fromhex(payload["pdq"]),
                payload["pdq_quality"],
                bytes.fromhex(payload["descriptor"]),
                [bytes.fromhex(d) for d in payload.get(REGION_DESCRIPTORS, ())],
                [
                    None if pdq is None else [bytes.fromhex(pdq[0]), pdq[1]]
                    for pdq in payload.get(REGION_PDQS, ())
                ],
            ]
            for position, payload in payloads.items()
        },
        use_bin_type=True,
    )


def unpack_payloads(data: bytes) -> dict[int, dict[str, Any]]:
    """What pack_payloads packed, as decode_verification gave it."""
    if not data:
        return {}
    stored = msgpack.unpackb(data, raw=False, strict_map_key=False)
    payloads: dict[int, dict[str, Any]] = {}
    for position, row in stored.items():
        information, width, height, pdq, pdq_quality, descriptor, regions, region_pdqs = row
        payload = {
            "information": information,
            "width": width,
            "height": height,
            "pdq": pdq.hex(),
            "pdq_quality": pdq_quality,
            "descriptor": descriptor.hex(),
        }
        if regions:
            payload[REGION_DESCRIPTORS] = [region.hex() for region in regions]
        if region_pdqs:
            payload[REGION_PDQS] = [
                None if entry is None else (entry[0].hex(), entry[1]) for entry in region_pdqs
            ]
        payloads[position] = payload
    return payloads


def complete_item(item: dict[str, Any], payload: Mapping[str, Any]) -> None:
    """Add an item's verification payload to what its hashes brought: its fields, and each of
    its regions' descriptor. Raises WireFormatError when the payload brings descriptors for
    other regions than the hashes carried."""
    regions = item.get("regions") or []
    descriptors = payload.get(REGION_DESCRIPTORS, [])
    if len(descriptors) != len(regions):
        raise WireFormatError(
            f"the payload brings {len(descriptors)} regions' descriptors; the item's hashes "
            f"carried {len(regions)} regions."
        )
    pdqs = payload.get(REGION_PDQS, [None] * len(regions))
    if len(pdqs) != len(regions):
        raise WireFormatError(
            f"the payload brings {len(pdqs)} regions' PDQs; the item's hashes carried "
            f"{len(regions)} regions."
        )
    item.update({name: payload[name] for name in VERIFICATION_FIELDS})
    for region, descriptor, pdq in zip(regions, descriptors, pdqs, strict=True):
        region["descriptor"] = descriptor
        if pdq is not None:
            # Checked as the JSON API checks it, by ImageFingerprint.from_wire.
            region["pdq"], region["pdq_quality"] = pdq
