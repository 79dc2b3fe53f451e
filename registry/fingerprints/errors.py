"""The two errors the fingerprinting module raises on bad input."""


class ImageDecodeError(ValueError):
    """The bytes are not an image this module will decode: unsafe, unsupported or broken."""


class FingerprintFormatError(ValueError):
    """A fingerprint received over the wire is malformed."""
