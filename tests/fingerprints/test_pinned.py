"""Fingerprints pinned byte for byte: a change to any field of a query's or a work's fingerprint
(decoding, trimming, the regions, any hash, any variant) shows here, whatever made it.

Work done for speed alone must leave every digest as it is. A change made on purpose comes
with a new FINGERPRINT_VERSION and new digests (`python -m tests.fingerprints.test_pinned`
prints them). An upgrade of Pillow (its resampling and JPEG decoder), NumPy, SciPy, ImageHash
or pdqhash may change them too: registered works would then no longer hash as queries hashed
by the new code do, which needs a decision (a new version, or fingerprinting them again).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from registry.fingerprints import fingerprint_image, fingerprint_work
from registry.fingerprints.decode import decode_image
from registry.fingerprints.hashing import Hashes
from registry.fingerprints.rectify import rectified
from registry.fingerprints.regions import _edge_rectangles
from tests.fingerprints.images import drawing, encode, painting

WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def _wide_jpeg() -> bytes:
    # 1280x720: decoded at half size by the JPEG draft, then shrunk to 512 px.
    return encode(painting(1, (1280, 720)), "JPEG", quality=85)


def _letterboxed() -> bytes:
    # Black bars above and below: trimmed, with the untrimmed frame as a region (and its PDQ).
    return encode(ImageOps.expand(painting(2), border=(0, 60), fill=BLACK), "PNG")


def _turned_on_white() -> bytes:
    # Turned 6 degrees on a white canvas grown to hold it: put upright as a region.
    turned = painting(3, (600, 450)).rotate(
        6, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=WHITE
    )
    return encode(turned, "JPEG", quality=90)


def _collage() -> bytes:
    # Two pictures on a white page with a gutter: the XY cut's pieces.
    page = Image.new("RGB", (820, 400), WHITE)
    page.paste(painting(4, (400, 300)), (10, 50))
    page.paste(painting(5, (380, 300)), (430, 50))
    return encode(page, "PNG")


def _pasted() -> bytes:
    # A picture pasted onto another (blurred, darker): no uniform surroundings, found by its
    # straight edges.
    blurred = painting(10, (900, 700)).filter(ImageFilter.GaussianBlur(4))
    background = ImageEnhance.Brightness(blurred).enhance(0.5)
    background.paste(painting(7, (420, 320)), (200, 180))
    return encode(background, "JPEG", quality=88)


def _transparent_drawing() -> bytes:
    # A drawing on a transparent page: flattened onto white, then trimmed.
    lines = np.asarray(drawing(8, (320, 260)).convert("L"))
    rgba = np.zeros((*lines.shape, 4), dtype=np.uint8)
    rgba[..., 3] = 255 - lines
    return encode(Image.fromarray(rgba, "RGBA"), "PNG")


def _exif_turned() -> bytes:
    # A camera's EXIF orientation (6: turned a quarter): put upright at decoding.
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(painting(9, (640, 480)), "JPEG", quality=85, exif=exif)


CASES: dict[str, Callable[[], bytes]] = {
    "wide_jpeg": _wide_jpeg,
    "letterboxed": _letterboxed,
    "turned_on_white": _turned_on_white,
    "collage": _collage,
    "pasted": _pasted,
    "transparent_drawing": _transparent_drawing,
    "exif_turned": _exif_turned,
}

# sha256 of the canonical JSON of each case's fingerprints, as computed at a387042 (Pillow 13.0.0,
# NumPy 2.4, SciPy 1.17, ImageHash 4.3.2, pdqhash 0.2.8).
QUERY_DIGESTS = {
    "wide_jpeg": "a7099420a634b63e4c49c9299819440da4225ee08dbaefc5ec394a09e2b65ecb",
    "letterboxed": "eb5d5ae850a91acb24eed2562ccc9f718d5529f9c95f6c3107ec906bc202ade0",
    # The upright region marked `"upright": true` (its hashes as before, 93309ab...): no new
    # version, since works hash as they did and an older client's unmarked fingerprints are
    # still read, only without the upright region's dHash searched.
    "turned_on_white": "8e5909d1a46e52c1c062929f907ada1444a1325473cc8eb1a8c3083a0e152a3d",
    "collage": "2cf72fb9fa8f00b28f634fa2be5904842372c539864ff19ecb383fcc6dd8dfa8",
    "pasted": "ef82121ebb0390d2b538ad0c9f18b4d4edc5e56ca0ffd4eff06de68a6838e35a",
    "transparent_drawing": "bed4a8df5bb68b85821c2c6d0ac0abd8517a8cd315098df0da286ca1da0ce86f",
    "exif_turned": "ccb5267a28aa40941db7439a4db7619b27dbee4e2cb0f5c1d680a1ac45d5eee9",
}
# Works are slower to fingerprint (every variant): three cases.
WORK_DIGESTS = {
    "wide_jpeg": "35ad27a165c473ae7332421308ccc75332a18b4b8e311dd424e0b61e9af76bf3",
    "letterboxed": "4acfd893670d354cfa3d9c20b0a94d05f8db418cff130e3c8b2d1b464560b708",
    "turned_on_white": "e3aed3ac31d5064625f2fa9ff94259feabcf011f9b1fb446ecdb898b1cee262e",
}


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _hashes(hashes: Hashes) -> list[object]:
    return [
        hashes.phash,
        hashes.dhash,
        hashes.pdq.hex(),
        hashes.pdq_quality,
        hashes.descriptor.hex(),
    ]


def query_digest(name: str) -> str:
    return _digest(fingerprint_image(CASES[name]()).to_wire())


def work_digest(name: str) -> str:
    work = fingerprint_work(CASES[name]())
    # A list, not a dict: the order of the variants is pinned too.
    variants = [[variant, _hashes(hashes)] for variant, hashes in work.variants.items()]
    return _digest({"image": work.image.to_wire(), "variants": variants})


@pytest.mark.parametrize("name", sorted(QUERY_DIGESTS))
def test_query_fingerprint_is_pinned(name: str) -> None:
    assert query_digest(name) == QUERY_DIGESTS[name]


@pytest.mark.parametrize("name", sorted(WORK_DIGESTS))
def test_work_fingerprint_is_pinned(name: str) -> None:
    assert work_digest(name) == WORK_DIGESTS[name]


def test_the_cases_reach_what_they_are_named_for() -> None:
    """Each case exercises the step it is there for: otherwise its digest pins little."""
    regions = {name: fingerprint_image(CASES[name]()).regions for name in CASES}
    boxes = {name: [box for box, _ in found] for name, found in regions.items()}
    assert (0, 0, 1000, 1000) in boxes["letterboxed"]  # the untrimmed frame
    assert rectified(decode_image(_turned_on_white()).untrimmed) is not None
    assert fingerprint_image(_turned_on_white()).upright is not None
    assert len(boxes["collage"]) >= 2
    grey = np.asarray(decode_image(_pasted()).decoded.convert("L"), dtype=np.float32)
    assert _edge_rectangles(grey)
    assert boxes["pasted"] == [(222, 257, 688, 714)]  # the pasted picture's place


if __name__ == "__main__":
    for name in CASES:
        print(f'    "{name}": "{query_digest(name)}",')
    for name in WORK_DIGESTS:
        print(f'    "{name}": "{work_digest(name)}",  # work')
