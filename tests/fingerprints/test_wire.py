"""The wire format of a query fingerprint and the signed storage of 64-bit hashes."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
from PIL import Image

from registry.fingerprints import (
    FINGERPRINT_VERSION,
    VARIANTS,
    FingerprintFormatError,
    ImageFingerprint,
    fingerprint_image,
    fingerprint_work,
    to_signed64,
    to_unsigned64,
)
from registry.fingerprints.comparison import compare, warm_up
from registry.fingerprints.descriptor import DESCRIPTOR_BYTES, describe, parse
from registry.fingerprints.regions import MAX_REGIONS
from tests.fingerprints.images import encode, painting


@cache
def sample() -> ImageFingerprint:
    return fingerprint_image(encode(painting(11), "JPEG", quality=90))


def test_round_trip_through_json() -> None:
    wire = json.loads(json.dumps(sample().to_wire()))
    assert ImageFingerprint.from_wire(wire) == sample()


def test_wire_fields_are_hex_strings() -> None:
    wire = sample().to_wire()
    assert wire["version"] == FINGERPRINT_VERSION
    assert isinstance(wire["phash"], str) and len(wire["phash"]) == 16
    assert isinstance(wire["pdq"], str) and len(wire["pdq"]) == 64


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phash", "xyz", "16 hex digits"),
        ("phash", "ab" * 9, "16 hex digits"),
        ("dhash", 12345, "must be a string"),
        ("pdq", "00" * 31, "64 hex digits"),
        ("descriptor", "zz", "hex digits"),
        ("version", FINGERPRINT_VERSION + 1, "not supported"),
        ("version", "1", "integer"),
        ("pdq_quality", 101, "integer from 0 to 100"),
        ("pdq_quality", True, "integer"),
        ("sha256", "A" * 64, "lowercase hex"),
        ("width", 0, "integer from 1"),
        ("information", float("nan"), "finite"),
        ("information", -1.0, "negative"),
    ],
)
def test_malformed_field_is_refused(field: str, value: object, message: str) -> None:
    wire = sample().to_wire() | {field: value}
    with pytest.raises(FingerprintFormatError, match=message):
        ImageFingerprint.from_wire(wire)


def test_missing_field_is_refused() -> None:
    wire = sample().to_wire()
    del wire["dhash"]
    with pytest.raises(FingerprintFormatError, match="no 'dhash'"):
        ImageFingerprint.from_wire(wire)


def test_not_an_object_is_refused() -> None:
    with pytest.raises(FingerprintFormatError, match="JSON object"):
        ImageFingerprint.from_wire(["phash", "00"])  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1])
def test_signed_storage_round_trip(value: int) -> None:
    stored = to_signed64(value)
    assert -(1 << 63) <= stored < 1 << 63
    assert to_unsigned64(stored) == value


def test_signed_storage_refuses_out_of_range() -> None:
    with pytest.raises(ValueError):
        to_signed64(1 << 64)
    with pytest.raises(ValueError):
        to_unsigned64(1 << 63)


def test_descriptor_fits_its_budget_and_reads_back() -> None:
    """At most 1,024 bytes a variant; the grid it stores comes back within one quantum."""
    picture = painting(13)
    descriptor = parse(describe(picture))
    assert len(describe(picture)) == DESCRIPTOR_BYTES <= 1024
    cells = np.asarray(picture.resize((32, 32), Image.Resampling.BOX), dtype=np.float32)
    grey = cells @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    quantum = (grey.max() - grey.min()) / 31
    assert np.abs(descriptor.grey - grey).max() <= quantum / 2 + 1
    assert descriptor.colour.shape == (2, 16, 16)
    assert parse(describe(picture.convert("L").convert("RGB"))).colour_scale == 0


def test_descriptor_compares_equal_to_itself_and_refuses_other_sizes() -> None:
    warm_up()  # what a worker calls before its first verification
    descriptor = describe(painting(14))
    same = compare(
        descriptor, descriptor, cell_tolerance=0.15, contrast_tolerance=0.5, colourless=12
    )
    # The fitted hue turn and saturation of a picture with itself come out at 1e-5, not 0.
    assert same._replace(ink=0.0) == pytest.approx((0.0,) * len(same), abs=1e-4)
    assert same.ink > 0.5  # a painting is content nearly everywhere
    with pytest.raises(ValueError, match="bytes"):
        compare(
            descriptor, descriptor[:-1], cell_tolerance=0.15, contrast_tolerance=0.5, colourless=12
        )


def test_work_registers_named_variants_including_original() -> None:
    work = fingerprint_work(encode(painting(12), "PNG"))
    assert "original" in work.variants
    assert set(work.variants) <= set(VARIANTS)
    # The index's memory grows with every registered variant: version 3 added two (180 degrees
    # and the vertical flip), version 4 thirteen (the content box, deep centre crops, ±7°
    # tilts), version 5 up to 24 16:9 windows of a picture that fills them, measured in
    # docs/matching.md. The index numbers variants in one byte.
    assert len(VARIANTS) <= 52
    assert all(len(name) <= 32 for name in VARIANTS)
    assert work.variants["original"] == work.image.hashes


def test_version_4_registers_deep_crops_and_a_content_box_only_where_margins_are_uneven() -> None:
    from registry.matching.rules import DEFAULT_MATCHING, verify

    corners = ("", "_nw", "_ne", "_sw", "_se")
    deep = {f"crop_centre_{keep}{c}" for keep in (70, 50) for c in corners}
    # A painting to its edges: the deep crops, and no content box (framed as "original").
    painted = fingerprint_work(encode(painting(12), "PNG")).variants
    assert deep <= set(painted) and "content_box" not in painted
    # The same painting on a white sheet, far from the right edge: the symmetric trim keeps
    # most of the right margin, the content box none of it.
    sheet = Image.new("RGB", (700, 420), "white")
    sheet.paste(painting(12), (20, 30))
    framed = fingerprint_work(encode(sheet, "PNG")).variants
    assert "content_box" in framed
    assert (framed["content_box"].phash ^ painted["original"].phash).bit_count() <= 4
    assert (framed["original"].phash ^ painted["original"].phash).bit_count() > 10
    # A match through them may deny, never allow; the same pair through "crop_centre" may.
    wide_tilts = {"tilt_left_7", "tilt_right_7"}
    assert (
        deep | {"content_box"} | wide_tilts <= set(DEFAULT_MATCHING.weak_variants) <= set(VARIANTS)
    )
    assert wide_tilts <= set(painted)
    assert "tilt_left" not in DEFAULT_MATCHING.weak_variants  # the 3-degree tilts may allow
    crop = painted["crop_centre_50_nw"]
    assert verify(crop, crop, variant="crop_centre").strong
    weak = verify(crop, crop, variant="crop_centre_50_nw")
    assert weak.matched and not weak.strong


def test_regions_travel_on_the_wire_and_are_optional() -> None:
    """A query with regions round-trips; one without (a version 3 client that cuts none)
    still parses; a malformed region is refused with the field named."""
    sheet = Image.new("RGB", (500, 700), "white")
    sheet.paste(painting(15), (10, 150))
    fingerprint = fingerprint_image(encode(sheet, "JPEG"))
    assert fingerprint.regions
    wire = fingerprint.to_wire()
    assert ImageFingerprint.from_wire(wire) == fingerprint
    regions = wire["regions"]
    assert isinstance(regions, list)
    bare = {key: value for key, value in wire.items() if key != "regions"}
    assert ImageFingerprint.from_wire(bare).regions == ()
    for broken in (
        [{"box": [0, 0, 0, 0], "phash": "0" * 16, "dhash": "0" * 16, "descriptor": ""}],
        [{"box": [0, 0, 500, 500], "phash": "0" * 16, "dhash": "0" * 16, "descriptor": "00"}],
        [regions[0]] * (MAX_REGIONS + 1),
        "not a list",
    ):
        with pytest.raises(FingerprintFormatError, match=r"region|descriptor"):
            ImageFingerprint.from_wire({**wire, "regions": broken})


def test_the_untrimmed_frame_travels_with_its_pdq_and_other_regions_without() -> None:
    """The trimmed query's untrimmed frame carries its own PDQ (rules.verify judges a pair both
    plain hashes accept there); other regions carry none, and a PDQ on one is refused. A frame
    sent without one still parses, with no PDQ (held to a near copy); half a PDQ, or a
    malformed one, is refused."""
    sheet = Image.new("RGB", (500, 700), "white")
    sheet.paste(painting(15), (10, 150))
    fingerprint = fingerprint_image(encode(sheet, "JPEG"))
    wire = json.loads(json.dumps(fingerprint.to_wire()))
    regions = wire["regions"]
    frames = [region for region in regions if region["box"] == [0, 0, 1000, 1000]]
    assert len(frames) == 1 and len(regions) > 1
    assert len(frames[0]["pdq"]) == 64 and 0 <= frames[0]["pdq_quality"] <= 100
    assert all("pdq" not in region for region in regions if region is not frames[0])
    assert ImageFingerprint.from_wire(wire) == fingerprint
    frame = dict(fingerprint.regions)[(0, 0, 1000, 1000)]
    assert frame.pdq != bytes(32)

    old = [{k: v for k, v in region.items() if not k.startswith("pdq")} for region in regions]
    parsed = dict(ImageFingerprint.from_wire({**wire, "regions": old}).regions)
    assert parsed[(0, 0, 1000, 1000)].pdq == bytes(32)
    assert parsed[(0, 0, 1000, 1000)].pdq_quality == 0

    elsewhere = {**frames[0], "box": [0, 0, 500, 1000]}
    with pytest.raises(FingerprintFormatError, match=r"region 0: only the untrimmed frame"):
        ImageFingerprint.from_wire({**wire, "regions": [elsewhere]})

    halves = ({"pdq": frames[0]["pdq"]}, {"pdq_quality": 80})
    for broken in (*halves, {"pdq": "zz" * 32, "pdq_quality": 80}, {"pdq": "00", "pdq_quality": 1}):
        region = {k: v for k, v in frames[0].items() if not k.startswith("pdq")} | broken
        with pytest.raises(FingerprintFormatError, match=r"region \d+: .*'pdq"):
            ImageFingerprint.from_wire({**wire, "regions": [region]})
