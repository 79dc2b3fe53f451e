"""The hashes of one normalized image: pHash, dHash, PDQ and the verification descriptor."""

from __future__ import annotations

from dataclasses import dataclass

import imagehash
import numpy as np
import pdqhash
from PIL import Image

from registry.fingerprints.descriptor import describe

PDQ_BYTES = 32


@dataclass(frozen=True)
class Hashes:
    """The hashes of one image or one registered variant of it."""

    phash: int  # unsigned 64-bit, imagehash.phash
    dhash: int  # unsigned 64-bit, imagehash.dhash
    pdq: bytes  # 256 bits
    pdq_quality: int  # 0-100, PDQ's own measure of how much gradient the image has
    descriptor: bytes = b""


def hash_image(image: Image.Image) -> Hashes:
    """Hash an image already normalized by decode (RGB, trimmed, at working size)."""
    gray = image.convert("L")
    pdq_bits, quality = pdqhash.compute(np.asarray(image))
    return Hashes(
        phash=_imagehash_int(imagehash.phash(gray)),
        dhash=_imagehash_int(imagehash.dhash(gray)),
        pdq=pdq_to_bytes(pdq_bits),
        pdq_quality=int(quality),
        descriptor=describe(image),
    )


def hash_region(image: Image.Image) -> Hashes:
    """The hashes a query region is searched and verified with: no PDQ (all zero), which
    only reports a distance and costs as much as the rest together."""
    gray = image.convert("L")
    return Hashes(
        phash=_imagehash_int(imagehash.phash(gray)),
        dhash=_imagehash_int(imagehash.dhash(gray)),
        pdq=bytes(PDQ_BYTES),
        pdq_quality=0,
        descriptor=describe(image),
    )


def _imagehash_int(value: imagehash.ImageHash) -> int:
    """The hash's bits, first bit highest, as `int(str(value), 16)` reads them: packed
    rather than printed and parsed, which cost as much as the hash's own DCT."""
    return int.from_bytes(np.packbits(value.hash.ravel()).tobytes(), "big")


def pdq_to_bytes(bits: np.ndarray) -> bytes:
    """Pack PDQ's 256 bits, first bit first, as 32 bytes."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


def hamming64(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def hamming_bytes(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def to_signed64(value: int) -> int:
    """Store an unsigned 64-bit hash in a signed BIGINT column."""
    if not 0 <= value < 1 << 64:
        raise ValueError(f"not an unsigned 64-bit value: {value}")
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned64(value: int) -> int:
    """Read back a hash stored by to_signed64."""
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f"not a signed 64-bit value: {value}")
    return value + (1 << 64) if value < 0 else value
