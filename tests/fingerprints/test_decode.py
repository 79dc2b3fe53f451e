"""Safe decoding (the gatekeeper's rule *fail closed*): every bad file gives
ImageDecodeError; normalization holds."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from registry.fingerprints import (
    ImageDecodeError,
    decode_image,
    fingerprint_image,
    fingerprint_work,
    load_image,
)
from tests.fingerprints.images import encode, painting


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a huge size: its pixels must never be decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\x00" * 64)
    body += (
        struct.pack(">I", len(idat))
        + b"IDAT"
        + idat
        + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    )
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n", "PDF"),
        (b"hello, this is a plain text file\n" * 20, "text"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (bytes(range(256)) * 8, "unsupported"),
    ],
    ids=["zero-bytes", "pdf", "text", "svg", "garbage"],
)
def test_not_an_image_is_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(ImageDecodeError, match=message):
        load_image(data)


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_truncated_file_is_refused(format: str) -> None:
    data = encode(painting(1), format)
    with pytest.raises(ImageDecodeError):
        load_image(data[: len(data) // 2])


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_every_allowed_format_decodes(format: str) -> None:
    image = load_image(encode(painting(2), format))
    assert image.mode == "RGB"
    assert max(image.size) == 256


def test_unsupported_format_is_refused() -> None:
    data = encode(painting(3), "PPM")
    with pytest.raises(ImageDecodeError, match="unsupported"):
        load_image(data)


def test_byte_limit() -> None:
    data = encode(painting(4), "PNG")
    with pytest.raises(ImageDecodeError, match="over the limit"):
        load_image(data, max_bytes=len(data) - 1)
    assert load_image(data, max_bytes=len(data))


def test_pixel_limit_is_checked_from_the_header() -> None:
    with pytest.raises(ImageDecodeError, match="9000x7000"):
        load_image(png_header_only(9_000, 7_000))
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        load_image(png_header_only(100_000, 100_000))
    with pytest.raises(ImageDecodeError, match="over the limit of 1000"):
        load_image(encode(painting(5), "PNG"), max_pixels=1000)


def test_pillow_bomb_warning_becomes_the_error() -> None:
    # Between Pillow's warning and error thresholds it only warns; we must refuse.
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        load_image(png_header_only(10_000, 10_000), max_pixels=10**9)


def test_gif_first_frame_is_used() -> None:
    frames = [painting(6), Image.new("RGB", (480, 360), "white")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    image = load_image(out.getvalue())
    assert np.asarray(image).std() > 20  # the busy first frame, not the blank second


def test_exif_orientation_is_applied() -> None:
    upright = painting(7, (400, 240))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    tagged = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    decoded = decode_image(tagged)
    assert (decoded.width, decoded.height) == (400, 240)
    plain = fingerprint_image(encode(upright, "JPEG", quality=95))
    assert (fingerprint_image(tagged).hashes.phash ^ plain.hashes.phash).bit_count() <= 4


def test_alpha_is_flattened_on_white() -> None:
    rgba = Image.new("RGBA", (200, 200), (0, 0, 0, 0))  # transparent black
    rgba.paste((200, 0, 0, 255), (50, 50, 150, 150))
    image = load_image(encode(rgba, "PNG"))
    # Transparent margins are white, so the trim leaves just the red square.
    assert image.size == (100, 100)
    assert np.asarray(image)[50, 50].tolist() == [200, 0, 0]


def test_palette_transparency_is_flattened_on_white() -> None:
    rgba = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 60, 120))
    image = load_image(encode(rgba.convert("P"), "PNG", transparency=0))
    assert np.asarray(image)[:, -1].min() > 240


def test_jpeg_letterbox_is_trimmed() -> None:
    picture = painting(8, (400, 300))
    framed = Image.new("RGB", (480, 360), (0, 0, 0))
    framed.paste(picture, (40, 30))
    trimmed = load_image(encode(framed, "JPEG", quality=60))
    assert abs(trimmed.width / trimmed.height - 400 / 300) < 0.03


def test_top_and_bottom_bars_alone_are_trimmed() -> None:
    picture = painting(9, (400, 300))
    framed = Image.new("RGB", (400, 400), (0, 0, 0))
    framed.paste(picture, (0, 50))
    trimmed = load_image(encode(framed, "JPEG", quality=80))
    assert abs(trimmed.width / trimmed.height - 400 / 300) < 0.03


def test_letterbox_around_a_dark_edge_comes_off_exactly() -> None:
    """The picture's own bottom is black (a night sky): the bars, not the sky, are trimmed."""
    picture = painting(10, (400, 300))
    picture.paste((0, 0, 0), (0, 240, 400, 300))
    framed = Image.new("RGB", (400, 360), (0, 0, 0))
    framed.paste(picture, (0, 30))
    trimmed = decode_image(encode(framed, "JPEG", quality=85)).trimmed_decoded
    assert abs(trimmed.height - 300) <= 4 and trimmed.width == 400


def test_overlay_on_one_edge_keeps_the_uploaded_framing() -> None:
    page = Image.new("RGB", (300, 300), "white")
    page.paste((0, 0, 0), (100, 100, 200, 200))
    page.paste((40, 40, 40), (200, 280, 300, 300))  # a bar in the bottom-right corner
    decoded = decode_image(encode(page, "PNG"))
    assert decoded.trimmed.size == decoded.untrimmed.size == (256, 256)


def test_blank_image_is_not_trimmed_away() -> None:
    image = load_image(encode(Image.new("RGB", (300, 200), "white"), "PNG"))
    assert image.size == (256, 171)


def test_sixteen_bit_grey_decodes() -> None:
    ramp = (np.linspace(0, 65535, 200 * 200).reshape(200, 200)).astype(np.uint16)
    image = load_image(encode(Image.fromarray(ramp), "PNG"))
    pixels = np.asarray(image)
    assert pixels.min() < 10 and pixels.max() > 245


@pytest.mark.parametrize("size", [(1, 1), (1, 40), (40, 1), (1, 1000), (2, 300)])
def test_a_work_a_pixel_or_two_wide_registers(size: tuple[int, int]) -> None:
    """A divider line or a one-pixel swatch is a valid upload: registering it must not crash
    on a crop that keeps nothing, and the work keeps its unedited variant."""
    data = encode(Image.new("RGB", size, (90, 30, 160)), "PNG")
    work = fingerprint_work(data)
    # The same upload screened later carries the registered original's hashes.
    assert work.variants["original"] == fingerprint_image(data).hashes
    assert work.image.sha256 == fingerprint_image(data).sha256


@pytest.mark.parametrize("size", [(1, 6), (3, 7), (7, 7), (2, 20)])
def test_a_tiny_picture_is_fingerprinted_for_screening(size: tuple[int, int]) -> None:
    """A scraped favicon-sized picture of noise must get a fingerprint (or a decode error),
    never an unexpected exception that stops a client's unattended run."""
    pixels = np.random.default_rng(7).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    data = encode(Image.fromarray(pixels), "BMP")
    found = fingerprint_image(data)
    assert (found.width, found.height) == size
