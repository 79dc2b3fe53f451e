"""Two-phase screening chunks on the wire: the MessagePack bodies, encoded by the client and
decoded by the server into the same item objects the JSON API takes. Plain Python, no Django.

Each phase carries what is read at that phase, nothing more: phase 1 what the candidate search
and the weak-image gate read, phase 2 what verification reads.

Phase 1, `application/vnd.consentry.hashes+msgpack`, one MessagePack map per chunk (layout 3):

    layout         int    3 (a body without it follows layout 1, and one of layout 2 has no
                          upright region: both are refused, 415)
    number         int    the chunk number, as in the JSON body
    version        int    the fingerprint version of every hashed item
    ids            array  N strings, the item ids (1 to 512 characters, unique in the chunk)
    hashes         bin    48 x N bytes: per item pHash (8 bytes, big-endian), dHash (8),
                          SHA-256 (32)
    information    bin    2 x N bytes: per item its information, IEEE-754 binary16 big-endian
    extra          map    optional, position -> map of the item's other fields: url, headers,
                          embedded, user_agent, or unreadable (its hashes are then ignored)
    region_counts  bin    optional, N bytes: per item, in the low 4 bits its number of
                          regions (0 to 8, fingerprints.regions), in the high 4 bits 0, or 1
                          plus the place among them of its upright region (the picture put
                          upright, `"upright": true` in JSON; at most one)
    region_phashes bin    with region_counts, 8 bytes a region: each region's pHash
                          (big-endian), items in order, each item's regions in its order
    upright_dhashes bin   with region_counts, when some item has an upright region: 8 bytes
                          an upright region, its dHash (big-endian), items in order

An item without extra fields costs 51 bytes plus its id (62 for an id of 11 characters), one
more in a chunk where some item has regions, 8 a region, and 8 more for an upright region
(and 18 once in a chunk that has one, the field's name and length: 19 past 31 of them); an
item without an upright region costs what it did in layout 2, and a chunk without one is
layout 2's body but for the layout number. Phase 1 carries a region's pHash, all the search
reads of a region, and the upright region's dHash, which is searched too (over the variants
framed as it is, rules.verify_item); other regions' dHash-only candidates are never verified,
and their boxes and dHashes go with their descriptors in phase 2 (the upright region's dHash
goes there again, and must agree, `complete_item`). The registry answers which positions it
needs phase 2 for: items with a candidate work (found by the item's pHash or dHash, by a
region's pHash or the upright region's dHash, or by the SHA-256) and items whose binary16
information is too close to the weak-image threshold to decide on. The others it decides from
phase 1 alone. Hashes within the search radius of some registered variant by chance are
candidates too: a stranger's are, at a million works (about 18 codes indexed per work, 10 bits
of 64), about one time in six (docs/benchmarks.md, economy).

Phase 2, `application/vnd.consentry.verification+msgpack`, one map per chunk:

    digest       bin    32 bytes: the content digest of the chunk these payloads complete
                        (SHA-256 of its items' ids and hashes, regions' pHashes too, and the
                        upright region's dHash, `content_digest`)
    items        array  per item [position, information (float64), width, height,
                        pdq (bin, 32 bytes), pdq_quality, descriptor (bin, 963 bytes)], and
                        for an item whose hashes carried regions an eighth value: per region
                        in order, [box (array of 4 integers: left, top, right, bottom in
                        thousandths), dhash (bin, 8 bytes), descriptor (bin, 963 bytes)],
                        with two more for a region that has a PDQ (the untrimmed frame's):
                        pdq (bin, 32 bytes), pdq_quality

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
from typing import Any, NamedTuple

import msgpack

from registry.fingerprints import FINGERPRINT_VERSION, ImageFingerprint
from registry.fingerprints.fingerprint import wire_region_phashes, wire_upright_dhash
from registry.fingerprints.hashing import Hashes
from registry.fingerprints.regions import MAX_REGIONS

HASHES_MEDIA_TYPE = "application/vnd.consentry.hashes+msgpack"
VERIFICATION_MEDIA_TYPE = "application/vnd.consentry.verification+msgpack"
# The layout of the hashes body. 1 (no `layout` field): 4-byte information and a `regions`
# map of 24 bytes a region (box, pHash, dHash). 2: 2-byte information, regions as their
# pHashes alone; their boxes and dHashes moved to phase 2, which needs them. 3: the upright
# region named in `region_counts`' high bits, its dHash in `upright_dhashes` (it is searched).
LAYOUT = 3
# region_counts: the number of regions in the low bits, the upright region's place plus one
# in the high bits.
_COUNT_BITS = 4
_COUNT_MASK = (1 << _COUNT_BITS) - 1
HASH_BYTES = 8 + 8 + 32
INFORMATION_BYTES = 2
REGION_HASH_BYTES = 8
DIGEST_BYTES = 32
_HASHES = struct.Struct(">QQ32s")
_HASHES_FIELDS = frozenset(
    {
        "layout",
        "number",
        "version",
        "ids",
        "hashes",
        "information",
        "extra",
        "region_counts",
        "region_phashes",
        "upright_dhashes",
    }
)
# The fields phase 1 leaves out and phase 2 brings (information again, exactly).
VERIFICATION_FIELDS = ("information", "width", "height", "pdq", "pdq_quality", "descriptor")
EXTRA_FIELDS = ("url", "headers", "embedded", "user_agent", "unreadable")
# Phase 2's name for what it brings of an item's regions: per region, in the item's order,
# the fields its hashes left out (box, dhash, descriptor, and pdq with pdq_quality if any).
REGION_FIELDS = "regions"
MAX_ID_LENGTH = 512
# A binary16 lies within 2**-11 of the value it stands for (relative; below 2**-14 within
# 2**-25 absolute): a threshold within 8 times that might fall between the two, and only the
# exact value (phase 2) decides.
_INFORMATION_MARGIN = 2.0**-8


class WireFormatError(ValueError):
    """A body that does not follow the layout; the message says where."""


class TooManyItems(WireFormatError):
    """More items than one request may carry."""


class OtherLayout(WireFormatError):
    """A hashes body in a layout this registry does not read (an older client's)."""


def unpack(body: bytes) -> Any:
    """A MessagePack body as Python objects: bytes stay bytes, text is UTF-8."""
    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=False, use_list=True)
    except (ValueError, msgpack.UnpackException, TypeError, RecursionError) as error:
        # ExtraData, FormatError and StackError are ValueErrors; a truncated body is too.
        raise WireFormatError(f"the body is not one MessagePack value ({error})") from None


def information_undecided(value: float, threshold: float) -> bool:
    """Whether a binary16 information cannot say which side of `threshold` the exact one is."""
    if not math.isfinite(value) or value == 0:  # 0 may be a tiny or negative value rounded
        return True
    return abs(value - threshold) <= max(abs(threshold), 1.0) * _INFORMATION_MARGIN


class HashedQuery(NamedTuple):
    """What the registry reads of an item sent as hashes alone: its fingerprint as
    `ImageFingerprint.from_wire_hashes` reads it, without regions, its regions' pHashes
    and its upright region's place and dHash (all the candidate search reads of its
    regions). A tuple: phase 1 makes one an item."""

    fingerprint: ImageFingerprint
    region_phashes: tuple[int, ...] = ()
    upright: tuple[int, int] | None = None  # (place among the regions, dHash)


def hashed_query(raw: Mapping[str, Any]) -> HashedQuery:
    """An item sent as hashes alone, as phase 1 stored it: checked as `from_wire_hashes`
    checks a fingerprint, its regions as pHashes and the upright one's dHash (the others'
    boxes and dHashes come in phase 2). Raises FingerprintFormatError."""
    fingerprint = ImageFingerprint.from_wire_hashes(raw)  # refuses a raw that is no mapping
    return HashedQuery(fingerprint, wire_region_phashes(raw), wire_upright_dhash(raw))


# --- phase 1 -----------------------------------------------------------------------------------


def encode_hashes(number: int, version: int, items: Sequence[Mapping[str, Any]]) -> bytes:
    """Phase 1 of a chunk of JSON-shaped client items (fingerprint fields, or `unreadable`)."""
    ids: list[str] = []
    hashes, information = bytearray(), bytearray()
    extra: dict[int, dict[str, Any]] = {}
    counts, region_phashes, upright_dhashes = bytearray(), bytearray(), bytearray()
    for position, item in enumerate(items):
        ids.append(item["id"])
        fields = {name: item[name] for name in EXTRA_FIELDS if name in item}
        if "unreadable" in item:
            hashes += bytes(HASH_BYTES)
            information += bytes(INFORMATION_BYTES)
            counts.append(0)
        else:
            hashes += bytes.fromhex(item["phash"]) + bytes.fromhex(item["dhash"])
            hashes += bytes.fromhex(item["sha256"])
            information += _binary16(item["information"])
            regions = item.get("regions") or []
            if len(regions) > MAX_REGIONS:
                raise WireFormatError(f"an item has more than {MAX_REGIONS} regions")
            upright = _upright_place(regions)
            counts.append(len(regions) | (0 if upright is None else upright + 1) << _COUNT_BITS)
            region_phashes += b"".join(_region_phash(region) for region in regions)
            if upright is not None:
                upright_dhashes += _region_code(regions[upright], "dhash")
        if fields:
            extra[position] = fields
    body: dict[str, Any] = {
        "layout": LAYOUT,
        "number": number,
        "version": version,
        "ids": ids,
        "hashes": bytes(hashes),
        "information": bytes(information),
    }
    if extra:
        body["extra"] = extra
    if region_phashes:
        body["region_counts"] = bytes(counts)
        body["region_phashes"] = bytes(region_phashes)
    if upright_dhashes:
        body["upright_dhashes"] = bytes(upright_dhashes)
    return msgpack.packb(body, use_bin_type=True)


def _upright_place(regions: Sequence[Mapping[str, Any]]) -> int | None:
    marked = [place for place, region in enumerate(regions) if region.get("upright") is True]
    if len(marked) > 1:
        raise WireFormatError("an item has more than one upright region")
    return marked[0] if marked else None


def _region_phash(region: Mapping[str, Any]) -> bytes:
    return _region_code(region, "phash")


def _region_code(region: Mapping[str, Any], name: str) -> bytes:
    code = bytes.fromhex(region[name])
    if len(code) != REGION_HASH_BYTES:
        raise WireFormatError(f"a region's {name} has {len(code)} bytes, not {REGION_HASH_BYTES}")
    return code


def _binary16(value: float) -> bytes:
    try:
        return struct.pack(">e", value)
    except (OverflowError, struct.error):  # beyond binary16: JSON carries it
        raise WireFormatError(f"information {value!r} does not fit a binary16") from None


def content_digest(items: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 (hex) of what a chunk is: its items' ids, and for each readable one its
    SHA-256, pHash and dHash as sent, and its regions' pHashes with the upright region's
    dHash (what phase 1 carries); the
    same for the JSON and the binary form of one chunk (the client sends hashes as binary
    only when their hex is canonical)."""
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
    """What phase 1 carries of an item's regions (their pHashes, as sent, and the upright
    region's dHash), when it has any: an item without regions keeps the digest it had before
    regions existed, and one without an upright region the digest it had in layout 2."""
    if "regions" not in item:
        return []
    regions = item["regions"]
    if not isinstance(regions, list):
        return [regions]
    return [_searched_region(region) for region in regions]


def _searched_region(region: Any) -> Any:
    if not isinstance(region, Mapping):
        return region
    if region.get("upright") is True:
        return [region.get("phash"), region.get("dhash")]
    return region.get("phash")


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


class DecodedHashes(NamedTuple):
    """A hashes body read: the chunk number, its items as the JSON API has them less the
    verification fields (`information` is the binary16 sent), and per item what the search
    reads of it, built straight from the binary arrays (None for an unreadable item, and for
    one whose fields `ImageFingerprint` refuses: the registry parses those from the item, so
    that their reason is its parser's)."""

    number: int
    items: list[dict[str, Any]]
    queries: list[HashedQuery | None]


def decode_hashes(body: Any, *, max_items: int) -> DecodedHashes:
    """Phase 1 of a chunk; raises WireFormatError (OtherLayout for another layout's body)."""
    if not isinstance(body, Mapping):
        raise WireFormatError("the body must be a MessagePack map.")
    _check_layout(body)
    unknown = sorted(str(name) for name in body if name not in _HASHES_FIELDS)
    if unknown:
        raise WireFormatError(
            f"the body has {', '.join(unknown)[:200]}, which layout {LAYOUT} does not have; it "
            f"may hold {', '.join(sorted(_HASHES_FIELDS))}."
        )
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
    count = len(ids)
    hashes = _field(body, "hashes", bytes, f"binary, {HASH_BYTES} bytes an item")
    information = _field(
        body, "information", bytes, f"binary, {INFORMATION_BYTES} bytes an item (binary16)"
    )
    for name, value, size in (
        ("hashes", hashes, HASH_BYTES),
        ("information", information, INFORMATION_BYTES),
    ):
        if len(value) != size * count:
            raise WireFormatError(
                f"{name!r} holds {len(value)} bytes; {count} items need {size * count}."
            )
    extra = _extra(body.get("extra", {}), count)
    counts, codes, upright_codes = _region_arrays(body, count)
    values = struct.unpack(f">{count}e", information)
    # Items of the fingerprint version the registry reads, with an information it takes, are
    # built here as `from_wire_hashes` would build them; the others it parses (and refuses).
    current = version == FINGERPRINT_VERSION
    items: list[dict[str, Any]] = []
    queries: list[HashedQuery | None] = []
    taken = uprights_taken = 0
    for position, (item_id, (phash, dhash, sha256), value) in enumerate(
        zip(ids, _HASHES.iter_unpack(hashes), values, strict=True)
    ):
        if not isinstance(item_id, str):
            raise WireFormatError(f"id {position} must be a string.")
        fields = extra.get(position)
        regions = counts[position] & _COUNT_MASK if counts else 0
        upright = (counts[position] >> _COUNT_BITS) - 1 if counts else -1
        if fields is not None and "unreadable" in fields:
            if counts and counts[position]:
                raise WireFormatError(f"position {position} is unreadable and has regions.")
            items.append({"id": item_id, **fields})
            queries.append(None)
            continue
        digest = sha256.hex()
        item: dict[str, Any] = {
            "id": item_id,
            "version": version,
            "sha256": digest,
            "phash": f"{phash:016x}",
            "dhash": f"{dhash:016x}",
            "information": value,
        }
        if fields is not None:
            item.update(fields)
        region_codes: tuple[int, ...] = ()
        searched_upright: tuple[int, int] | None = None
        if regions:
            region_codes = codes[taken : taken + regions]
            taken += regions
            item["regions"] = [{"phash": f"{code:016x}"} for code in region_codes]
        if upright >= 0:
            searched_upright = (upright, upright_codes[uprights_taken])
            uprights_taken += 1
            item["regions"][upright].update(dhash=f"{searched_upright[1]:016x}", upright=True)
        items.append(item)
        if current and math.isfinite(value) and value >= 0:
            hashed = Hashes(phash=phash, dhash=dhash, pdq=b"", pdq_quality=0, descriptor=b"")
            fingerprint = ImageFingerprint(version, digest, 0, 0, value, hashed)
            queries.append(HashedQuery(fingerprint, region_codes, searched_upright))
        else:
            queries.append(None)
    return DecodedHashes(number, items, queries)


def _check_layout(body: Mapping[str, Any]) -> None:
    """Refuse a body of another layout before reading anything of it: read as this one, an
    older client's information would be misread and its regions lost."""
    layout = body.get("layout")
    if layout == LAYOUT and not isinstance(layout, bool):
        return
    if layout is None:
        if not _layout_1(body):
            raise WireFormatError(f"the body has no 'layout' (an integer, {LAYOUT}).")
        what = (
            "follows layout 1 (no 'layout' field: 4-byte information, regions with their "
            "boxes and dHashes)"
        )
    elif layout == 2 and not isinstance(layout, bool):
        what = "follows layout 2 (no upright region: its dHash is not searched)"
    else:
        what = f"names layout {str(layout)[:20]!r}"
    raise OtherLayout(
        f"this {HASHES_MEDIA_TYPE} body {what}; this registry reads layout {LAYOUT} only "
        "(docs/design.md, 'Two-phase chunks'). Update the Consentry client (registry.client), "
        "or send the chunk as JSON."
    )


def _layout_1(body: Mapping[str, Any]) -> bool:
    """Whether a body without `layout` is one of layout 1: 4 bytes of information an item."""
    ids, information = body.get("ids"), body.get("information")
    return (
        isinstance(ids, list)
        and isinstance(information, bytes)
        and len(information) == 4 * len(ids)
    )


def _region_arrays(
    body: Mapping[str, Any], count: int
) -> tuple[bytes, tuple[int, ...], tuple[int, ...]]:
    """Each item's region byte (empty: none has any regions), every region's pHash, and every
    upright region's dHash."""
    if not {"region_counts", "region_phashes", "upright_dhashes"} & set(body):
        return b"", (), ()
    counts = _field(
        body,
        "region_counts",
        bytes,
        f"binary, 1 byte an item (its number of regions, 0 to {MAX_REGIONS}, plus 16 times "
        "1 + its upright region's place, if any)",
    )
    codes = _field(body, "region_phashes", bytes, f"binary, {REGION_HASH_BYTES} bytes a region")
    if len(counts) != count:
        raise WireFormatError(
            f"'region_counts' holds {len(counts)} bytes; {count} items need {count}."
        )
    for position, byte in enumerate(counts):
        regions, upright = byte & _COUNT_MASK, (byte >> _COUNT_BITS) - 1
        if regions > MAX_REGIONS:
            raise WireFormatError(
                f"'region_counts' gives position {position} {regions} regions; an item "
                f"has at most {MAX_REGIONS}."
            )
        if upright >= regions:
            raise WireFormatError(
                f"'region_counts' names region {upright} of position {position} upright; it "
                f"has {regions} regions."
            )
    total = sum(byte & _COUNT_MASK for byte in counts)
    if len(codes) != REGION_HASH_BYTES * total:
        raise WireFormatError(
            f"'region_phashes' holds {len(codes)} bytes; {total} regions need "
            f"{REGION_HASH_BYTES * total}."
        )
    uprights = sum(1 for byte in counts if byte >> _COUNT_BITS)
    upright_codes = body.get("upright_dhashes", b"")
    if not isinstance(upright_codes, bytes):
        raise WireFormatError(
            f"'upright_dhashes' must be binary, {REGION_HASH_BYTES} bytes an upright region."
        )
    if len(upright_codes) != REGION_HASH_BYTES * uprights:
        raise WireFormatError(
            f"'upright_dhashes' holds {len(upright_codes)} bytes; {uprights} upright regions "
            f"need {REGION_HASH_BYTES * uprights}."
        )
    return (
        counts,
        struct.unpack(f">{total}Q", codes),
        struct.unpack(f">{uprights}Q", upright_codes),
    )


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
            *_region_rows(item),
        ]
        for position, item in sorted(payloads.items())
    ]
    return msgpack.packb({"digest": bytes.fromhex(digest), "items": rows}, use_bin_type=True)


def _region_rows(item: Mapping[str, Any]) -> list[Any]:
    """The eighth value of an item's row, when it has regions: per region what phase 1 left
    out of it."""
    regions = item.get("regions")
    if not regions:
        return []
    return [[_region_row(region) for region in regions]]


def _region_row(region: Mapping[str, Any]) -> list[Any]:
    row = [list(region["box"]), bytes.fromhex(region["dhash"]), bytes.fromhex(region["descriptor"])]
    if "pdq" in region:
        row += [bytes.fromhex(region["pdq"]), region["pdq_quality"]]
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
    as the JSON API has them (hex for binary), its regions' under REGION_FIELDS."""
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
        if not isinstance(row, list) or not len(_ROW) <= len(row) <= len(_ROW) + 1:
            raise WireFormatError(
                f"item {number} must be an array of {len(_ROW)} values, {len(_ROW) + 1} with "
                f"its regions (layout {LAYOUT}; layout 1's ninth value, the regions' PDQs, "
                "now goes with each region: update the Consentry client)."
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
            payloads[position][REGION_FIELDS] = _decoded_regions(number, row[len(_ROW)])
    return digest.hex(), payloads


def _decoded_regions(number: int, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_REGIONS:
        raise WireFormatError(
            f"item {number}: its regions must be an array of 1 to {MAX_REGIONS} regions."
        )
    return [_decoded_region(number, entry) for entry in value]


def _decoded_region(number: int, entry: Any) -> dict[str, Any]:
    if (
        not isinstance(entry, list)
        or len(entry) not in (3, 5)
        or not _integers(entry[0], 4)
        or not isinstance(entry[1], bytes)
        or not isinstance(entry[2], bytes)
        or (len(entry) == 5 and (not isinstance(entry[3], bytes) or not _integers([entry[4]], 1)))
    ):
        raise WireFormatError(
            f"item {number}: each of its regions must be [box (4 integers), dhash (binary), "
            "descriptor (binary)], with pdq (binary) and pdq_quality (an integer) for a region "
            "that has a PDQ (layout 1's bare descriptors are no longer taken: update the "
            "Consentry client)."
        )
    region = {"box": list(entry[0]), "dhash": entry[1].hex(), "descriptor": entry[2].hex()}
    if len(entry) == 5:
        region["pdq"], region["pdq_quality"] = entry[3].hex(), entry[4]
    return region


def _integers(value: Any, count: int) -> bool:
    return (
        isinstance(value, list)
        and len(value) == count
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


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
                [_region_row(region) for region in payload.get(REGION_FIELDS, ())],
            ]
            for position, payload in payloads.items()
        },
        use_bin_type=True,
    )


def unpack_payloads(data: bytes) -> dict[int, dict[str, Any]]:
    """What pack_payloads packed, as decode_verification gave it; and what it packed before
    layout 2 (the regions' descriptors and PDQs apart, their boxes and dHashes in the items)."""
    if not data:
        return {}
    stored = msgpack.unpackb(data, raw=False, strict_map_key=False)
    payloads: dict[int, dict[str, Any]] = {}
    for position, row in stored.items():
        information, width, height, pdq, pdq_quality, descriptor, regions, *before = row
        payload = {
            "information": information,
            "width": width,
            "height": height,
            "pdq": pdq.hex(),
            "pdq_quality": pdq_quality,
            "descriptor": descriptor.hex(),
        }
        if before:
            payload[REGION_FIELDS] = _regions_before_layout_2(regions, before[0])
        elif regions:
            payload[REGION_FIELDS] = [_decoded_region(position, entry) for entry in regions]
        if not payload.get(REGION_FIELDS):
            payload.pop(REGION_FIELDS, None)
        payloads[position] = payload
    return payloads


def _regions_before_layout_2(descriptors: list[bytes], pdqs: list[Any]) -> list[dict[str, Any]]:
    regions: list[dict[str, Any]] = [{"descriptor": d.hex()} for d in descriptors]
    for region, pdq in zip(regions, pdqs, strict=False):
        if pdq is not None:
            region["pdq"], region["pdq_quality"] = pdq[0].hex(), pdq[1]
    return regions


def complete_item(item: dict[str, Any], payload: Mapping[str, Any]) -> None:
    """Add an item's verification payload to what its hashes brought: its fields, and what
    each of its regions' hashes left out. Raises WireFormatError when the payload brings
    other regions than the hashes carried."""
    regions = item.get("regions") or []
    brought = payload.get(REGION_FIELDS, [])
    if len(brought) != len(regions):
        raise WireFormatError(
            f"the payload brings {len(brought)} regions; the item's hashes carried "
            f"{len(regions)} regions."
        )
    for place, (region, fields) in enumerate(zip(regions, brought, strict=True)):
        # The upright region's dHash came with its hashes, was searched, and is in the
        # content digest: the payload may not bring another. (Payloads kept before layout 2
        # bring no dHash: their items carried every region's.)
        searched = region.get("dhash")
        if region.get("upright") is True and fields.get("dhash", searched) != searched:
            raise WireFormatError(
                f"the payload brings region {place} another dhash than the item's hashes "
                "carried for its upright region."
            )
    item.update({name: payload[name] for name in VERIFICATION_FIELDS})
    # Checked as the JSON API checks them, by ImageFingerprint.from_wire.
    for region, fields in zip(regions, brought, strict=True):
        region.update(fields)
