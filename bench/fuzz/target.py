"""The fuzz target: what the server runs on an uploaded image, under atheris (libFuzzer).

Decoding and fingerprinting may refuse an input only with ImageDecodeError; reading its
embedded signals (XMP plus:DataMining, C2PA manifests) never raises. Any other exception is
a crash; libFuzzer also stops on an input slower than -timeout or heavier than -rss_limit_mb.
Run through `python -m bench.fuzz`, which sets those limits and counts the runs.
"""

import contextlib
import sys

import atheris

# Coverage guidance: the decoders' Python side and our own modules are instrumented.
with atheris.instrument_imports(include=["PIL", "registry.fingerprints", "registry.optout"]):
    from registry.fingerprints import ImageDecodeError, fingerprint_image
    from registry.optout import embedded_to_wire


def test_one_input(data: bytes) -> None:
    # ImageDecodeError is the clear decoding error: the item is decided invalid.
    with contextlib.suppress(ImageDecodeError):
        fingerprint_image(data)
    embedded_to_wire(data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
