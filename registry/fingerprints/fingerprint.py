"""Fingerprints of a query image and of a registered work, and their wire format."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
from PIL import Image, ImageFilter

from registry.fingerprints.decode import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, decode_image
from registry.fingerprints.descriptor import DESCRIPTOR_BYTES
from registry.fingerprints.errors import FingerprintFormatError
from registry.fingerprints.hashing import PDQ_BYTES, Hashes, hash_image, hash_region
from registry.fingerprints.regions import MAX_REGIONS, WHOLE_FRAME, Region, query_regions
from registry.fingerprints.variants import variant_images

# Bumped whenever decoding, normalization, the variants or any hash changes: fingerprints
# of two versions are not comparable. 2: symmetric trimming; variants "brightened" and one
# "crop_centre" (7.5% a side) in place of "crop_centre_5" and "crop_centre_10"; the
# 963-byte descriptor.
# 3: registered variants "rotate180" and "flip_vertical"; `information` measures lines and
# edges; the descriptor comparison models tone classes, hue turns and compact overlays.
# 4: registered variants "content_box" (the picture trimmed to its content on every side on
# its own) and deep centre crops keeping 70% and 50% of each side, five of each
# ("crop_centre_70", "crop_centre_70_nw"...), and tilts of 7 degrees each way
# ("tilt_left_7", "tilt_right_7": variants.WIDE_TILTS); matches through them are weak
# (MatchingConfig.weak_variants). A trimmed query's untrimmed frame carries its own PDQ.
# 5: registered 16:9 windows of a picture that fills them ("crop_16x9_0"...:
# variants.WINDOW_VARIANTS), weak too; a query turned, sheared or keystoned on a fill is
# searched upright as one more region (fingerprints.rectify).
FINGERPRINT_VERSION = 5
# `information` reads the grey picture at this size, less its blur of this radius.
STRUCTURE_GRID = 64
STRUCTURE_BLUR = 1.5

_SHA256 = re.compile(r"[0-9a-f]{64}")
# What a reader of one wire region gives (_each_region).
_Read = TypeVar("_Read")
# A region's PDQ when it has none (hashing.hash_region): all zero, quality 0.
NO_PDQ = bytes(PDQ_BYTES)


@dataclass(frozen=True)
class ImageFingerprint:
    """What a query item carries: computed by the client or by the server."""

    version: int
    sha256: str
    width: int
    height: int
    information: float
    hashes: Hashes
    # Parts of the query that may hold a work inside a bigger picture (fingerprints.regions):
    # (left, top, right, bottom) in thousandths of the frame, and their hashes (no PDQ).
    regions: tuple[tuple[tuple[int, int, int, int], Hashes], ...] = ()
    # Which of `regions` is the picture put upright (fingerprints.rectify), if any: on the
    # wire `"upright": true` on that region. Its dHash is searched as the whole query's is,
    # over the variants framed as it is (rules.verify_item).
    upright: int | None = None

    def searched(self) -> list[Hashes]:
        """Every set of hashes the index is asked about: the whole query, then its regions."""
        return [self.hashes, *(hashes for _, hashes in self.regions)]

    def upright_searched(self) -> int | None:
        """The upright region's index into `searched()`, if the query has one."""
        return None if self.upright is None else self.upright + 1

    # The fields of to_wire, every one required of a client's fingerprint.
    WIRE_FIELDS = (
        "version",
        "sha256",
        "width",
        "height",
        "information",
        "phash",
        "dhash",
        "pdq",
        "pdq_quality",
        "descriptor",
    )

    def to_wire(self) -> dict[str, object]:
        wire = self._wire_main()
        if self.regions:
            regions = [_region_wire(box, hashes) for box, hashes in self.regions]
            if self.upright is not None:
                regions[self.upright]["upright"] = True
            wire["regions"] = regions
        return wire

    def _wire_main(self) -> dict[str, object]:
        return {
            "version": self.version,
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
            "information": self.information,
            "phash": f"{self.hashes.phash:016x}",
            "dhash": f"{self.hashes.dhash:016x}",
            "pdq": self.hashes.pdq.hex(),
            "pdq_quality": self.hashes.pdq_quality,
            "descriptor": self.hashes.descriptor.hex(),
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, object]) -> ImageFingerprint:
        """Parse a client's fingerprint; anything malformed raises FingerprintFormatError."""
        if not isinstance(data, Mapping):
            raise FingerprintFormatError("a fingerprint must be a JSON object")
        version, sha256 = _wire_version(data), _wire_sha256(data)
        hashes = Hashes(
            phash=int.from_bytes(_wire_hex(data, "phash", 8), "big"),
            dhash=int.from_bytes(_wire_hex(data, "dhash", 8), "big"),
            pdq=_wire_hex(data, "pdq", PDQ_BYTES),
            pdq_quality=_wire_int(data, "pdq_quality", 0, 100),
            descriptor=_wire_hex(data, "descriptor", DESCRIPTOR_BYTES),
        )
        return cls(
            version=version,
            sha256=sha256,
            width=_wire_int(data, "width", 1, 1 << 31),
            height=_wire_int(data, "height", 1, 1 << 31),
            information=_wire_float(data, "information"),
            hashes=hashes,
            regions=_wire_regions(data),
            upright=wire_upright(data),
        )

    @classmethod
    def from_wire_hashes(cls, data: Mapping[str, object]) -> ImageFingerprint:
        """What the candidate search reads of the whole picture (version, SHA-256, pHash,
        dHash, information), checked as `from_wire` checks it; what the search reads of the
        regions (their pHashes, the upright one's dHash) is read apart (`wire_region_phashes`,
        `wire_upright_dhash`). The rest is left empty: with no descriptor, no
        candidate can ever be verified against it (rules.verify fails closed)."""
        if not isinstance(data, Mapping):
            raise FingerprintFormatError("a fingerprint must be a JSON object")
        version, sha256 = _wire_version(data), _wire_sha256(data)
        hashes = Hashes(
            phash=int.from_bytes(_wire_hex(data, "phash", 8), "big"),
            dhash=int.from_bytes(_wire_hex(data, "dhash", 8), "big"),
            pdq=b"",
            pdq_quality=0,
            descriptor=b"",
        )
        information = _wire_float(data, "information")
        return cls(version, sha256, 0, 0, information, hashes)


@dataclass(frozen=True)
class WorkFingerprints:
    """A registered work: its own fingerprint and the hashes of every variant ("original" too)."""

    image: ImageFingerprint
    variants: dict[str, Hashes]


def fingerprint_image(
    data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS
) -> ImageFingerprint:
    """Fingerprint a query image. Raises ImageDecodeError for anything unsafe or broken."""
    decoded = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    whole = _image_fingerprint(data, decoded.width, decoded.height, decoded.trimmed)
    found = query_regions(decoded)
    regions = tuple((region.box, _region_hashes(region)) for region in found)
    upright = next((number for number, region in enumerate(found) if region.upright), None)
    return replace(whole, regions=regions, upright=upright)


def _region_hashes(region: Region) -> Hashes:
    # The untrimmed frame is the file as plain pHash and PDQ read it: with its own PDQ, a pair
    # both plain hashes accept there (a caption band across a drawing's margin keeps the
    # whole query from trimming as its work did) is judged as such (rules.verify). Other
    # regions go without: PDQ costs as much as their other hashes together.
    if region.box == WHOLE_FRAME:
        return hash_image(region.image)
    return hash_region(region.image)


def fingerprint_work(
    data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS
) -> WorkFingerprints:
    """Fingerprint a work to register, with the hashes of every registered variant."""
    decoded = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    variants = {name: hash_image(image) for name, image in variant_images(decoded).items()}
    image = _image_fingerprint(data, decoded.width, decoded.height, decoded.trimmed)
    return WorkFingerprints(image=image, variants=variants)


def _image_fingerprint(
    data: bytes, width: int, height: int, image: Image.Image
) -> ImageFingerprint:
    return ImageFingerprint(
        version=FINGERPRINT_VERSION,
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        information=information(image),
        hashes=hash_image(image),
    )


def information(image: Image.Image) -> float:
    """The contrast, in grey levels, of the picture's lines and edges.

    The root mean square of the grey picture at 64x64 less its blur: what outlines, edges
    and details draw, and what the verification compares. Line art scores high though its
    low frequencies are faint; a blank page, a paper texture or a gradient (however strong)
    scores a grey level or two: its hashes are decided by noise and by the ramp, and collide
    with every other such image. (Version 2 measured the low frequencies pHash reads: it
    refused outline drawings and let a plain gradient in.)
    """
    small = image.convert("L").resize((STRUCTURE_GRID, STRUCTURE_GRID), Image.Resampling.BOX)
    detail = np.asarray(small, dtype=np.float64) - np.asarray(
        small.filter(ImageFilter.GaussianBlur(STRUCTURE_BLUR)), dtype=np.float64
    )
    return float(np.sqrt((detail**2).mean()))


def _region_wire(box: tuple[int, int, int, int], hashes: Hashes) -> dict[str, object]:
    wire: dict[str, object] = {
        "box": list(box),
        "phash": f"{hashes.phash:016x}",
        "dhash": f"{hashes.dhash:016x}",
        "descriptor": hashes.descriptor.hex(),
    }
    if hashes.pdq != NO_PDQ:
        wire["pdq"] = hashes.pdq.hex()
        wire["pdq_quality"] = hashes.pdq_quality
    return wire


def _wire_regions(
    data: Mapping[str, object],
) -> tuple[tuple[tuple[int, int, int, int], Hashes], ...]:
    """Optional: a fingerprint without regions is searched as a whole only."""
    return tuple(_each_region(data, _wire_region))


def wire_region_phashes(data: Mapping[str, object]) -> tuple[int, ...]:
    """The regions' pHashes alone, each checked as `from_wire` checks it: all that phase 1 of
    a binary chunk reads of a region (its box and dHash come in phase 2, chunk_wire)."""
    return tuple(
        _each_region(data, lambda item: int.from_bytes(_wire_hex(item, "phash", 8), "big"))
    )


def wire_upright(data: Mapping[str, object]) -> int | None:
    """Which region is marked `"upright": true` (a boolean when present), if any; two marked
    raise FingerprintFormatError: a query has one picture put upright at most."""
    marked = [number for number, flag in enumerate(_each_region(data, _upright_flag)) if flag]
    if len(marked) > 1:
        raise FingerprintFormatError(
            f"regions {marked[0]} and {marked[1]} are both marked 'upright'; at most one region "
            "is the picture put upright"
        )
    return marked[0] if marked else None


def wire_upright_dhash(data: Mapping[str, object]) -> tuple[int, int] | None:
    """The upright region's index and dHash, checked as `from_wire` checks them: what phase 1
    of a binary chunk reads of it besides its pHash (chunk_wire)."""
    upright = wire_upright(data)
    if upright is None:
        return None
    region = data["regions"][upright]  # type: ignore[index]  # checked by wire_upright
    try:
        return upright, int.from_bytes(_wire_hex(region, "dhash", 8), "big")
    except FingerprintFormatError as error:
        raise FingerprintFormatError(f"region {upright}: {error}") from None


def _upright_flag(item: Mapping[str, object]) -> bool:
    flag = item.get("upright", False)
    if not isinstance(flag, bool):
        raise FingerprintFormatError("'upright' must be true or false")
    return flag


def _each_region(
    data: Mapping[str, object], read: Callable[[Mapping[str, object]], _Read]
) -> list[_Read]:
    raw = data.get("regions", [])
    if not isinstance(raw, list) or len(raw) > MAX_REGIONS:
        raise FingerprintFormatError(f"'regions' must be a list of at most {MAX_REGIONS}")
    found = []
    for number, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise FingerprintFormatError("each region must be a JSON object")
        try:
            found.append(read(item))
        except FingerprintFormatError as error:
            # Name the region: a malformed one must be found and fixed, never skipped.
            raise FingerprintFormatError(f"region {number}: {error}") from None
    return found


def _wire_region(item: Mapping[str, object]) -> tuple[tuple[int, int, int, int], Hashes]:
    """One region's box and hashes."""
    box = item.get("box")
    if (
        not isinstance(box, list)
        or len(box) != 4
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in box)
        or not 0 <= box[0] < box[2] <= 1000
        or not 0 <= box[1] < box[3] <= 1000
    ):
        raise FingerprintFormatError("a region's 'box' must be 4 thousandths, left < right")
    pdq, pdq_quality = NO_PDQ, 0
    # Optional, both or neither, and only for the untrimmed frame (fingerprint_image): a PDQ
    # lets rules.verify judge the region as both plain hashes would the file.
    if "pdq" in item or "pdq_quality" in item:
        if tuple(box) != WHOLE_FRAME:
            raise FingerprintFormatError(
                "only the untrimmed frame (box [0, 0, 1000, 1000]) carries a 'pdq'"
            )
        pdq, pdq_quality = _wire_hex(item, "pdq", PDQ_BYTES), _wire_int(item, "pdq_quality", 0, 100)
    hashes = Hashes(
        phash=int.from_bytes(_wire_hex(item, "phash", 8), "big"),
        dhash=int.from_bytes(_wire_hex(item, "dhash", 8), "big"),
        pdq=pdq,
        pdq_quality=pdq_quality,
        descriptor=_wire_hex(item, "descriptor", DESCRIPTOR_BYTES),
    )
    return (box[0], box[1], box[2], box[3]), hashes


def _wire_version(data: Mapping[str, object]) -> int:
    version = _wire_int(data, "version", 0, 1 << 31)
    if version != FINGERPRINT_VERSION:
        raise FingerprintFormatError(
            f"fingerprint version {version} is not supported (expected {FINGERPRINT_VERSION})"
        )
    return version


def _wire_sha256(data: Mapping[str, object]) -> str:
    sha256 = _wire_str(data, "sha256")
    if not _SHA256.fullmatch(sha256):
        raise FingerprintFormatError("sha256 must be 64 lowercase hex digits")
    return sha256


def _wire_value(data: Mapping[str, object], key: str) -> Any:
    if key not in data:
        raise FingerprintFormatError(f"the fingerprint has no {key!r}")
    return data[key]


def _wire_int(data: Mapping[str, object], key: str, low: int, high: int) -> int:
    value = _wire_value(data, key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FingerprintFormatError(f"{key!r} must be an integer from {low} to {high}")
    return value


def _wire_float(data: Mapping[str, object], key: str) -> float:
    value = _wire_value(data, key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FingerprintFormatError(f"{key!r} must be a finite number")
    if value < 0:
        raise FingerprintFormatError(f"{key!r} must not be negative")
    return float(value)


def _wire_str(data: Mapping[str, object], key: str) -> str:
    value = _wire_value(data, key)
    if not isinstance(value, str):
        raise FingerprintFormatError(f"{key!r} must be a string")
    return value


def _wire_hex(data: Mapping[str, object], key: str, size: int) -> bytes:
    text = _wire_str(data, key)
    try:
        value = bytes.fromhex(text) if len(text) == 2 * size else b""
    except ValueError:
        value = b""
    # fromhex skips whitespace, so a text of the right length with a space in it comes out
    # short: the length of the bytes is the check, with no regular expression per item.
    if len(value) != size:
        raise FingerprintFormatError(f"{key!r} must be {2 * size} hex digits")
    return value
