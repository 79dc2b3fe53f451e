"""Fingerprinting: safe decoding, normalization, hashes, registered variants, wire format.

Plain Python, no Django: the server, the client and the tests import it alike.
"""

from registry.fingerprints.decode import (
    ALLOWED_FORMATS,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    declared_pixels,
    decode_image,
    load_image,
)
from registry.fingerprints.errors import FingerprintFormatError, ImageDecodeError
from registry.fingerprints.fingerprint import (
    FINGERPRINT_VERSION,
    ImageFingerprint,
    WorkFingerprints,
    fingerprint_image,
    fingerprint_work,
)
from registry.fingerprints.hashing import (
    Hashes,
    hamming64,
    hamming_bytes,
    to_signed64,
    to_unsigned64,
)
from registry.fingerprints.variants import VARIANTS

__all__ = [
    "ALLOWED_FORMATS",
    "FINGERPRINT_VERSION",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "VARIANTS",
    "FingerprintFormatError",
    "Hashes",
    "ImageDecodeError",
    "ImageFingerprint",
    "WorkFingerprints",
    "declared_pixels",
    "decode_image",
    "fingerprint_image",
    "fingerprint_work",
    "hamming64",
    "hamming_bytes",
    "load_image",
    "to_signed64",
    "to_unsigned64",
]
