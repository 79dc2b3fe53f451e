"""Safe decoding and normalization of untrusted image bytes.

Every failure, whatever Pillow or a codec raises, leaves as ImageDecodeError: callers
fail closed on one exception type (docs/gatekeeper.md, "Fail closed").
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from registry.fingerprints.errors import ImageDecodeError

MAX_IMAGE_BYTES = 40 * 1024 * 1024
# 50 MP admits every camera photo and large scans; it stays below Pillow's own
# bomb threshold (about 89 MP) so that, with the defaults, Pillow never warns first.
MAX_IMAGE_PIXELS = 50_000_000

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

# Hashes need little resolution (pHash reads 32 px, PDQ 64 px); trimming reads this much.
DECODE_SIZE = 512
WORK_SIZE = 256

# A line of pixels is border when at most BORDER_OUTLIERS of its pixels differ from the
# border's grey level by more than BORDER_TOLERANCE (0-255). Grey, not colour, so that a
# grayscale copy trims as its original does; the tolerance absorbs JPEG noise on a flat
# letterbox but not the slow drift of a gradient; the outlier share absorbs ringing.
BORDER_TOLERANCE = 24
BORDER_OUTLIERS = 0.01
# Trimming never leaves less than this share of a side: a near-blank image stays as it is.
MIN_CONTENT_SHARE = 0.04

_KNOWN_SIGNATURES = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"<?xml", "an XML or SVG document"),
    (b"<svg", "an SVG document"),
    (b"8BPS", "a Photoshop document"),
    (b"\x00\x00\x01\x00", "an ICO icon"),
)


@dataclass(frozen=True)
class DecodedImage:
    """A decoded image before and after trimming, with the size its header declared.

    Both framings are made on first use: a query needs only the trimmed one.
    """

    decoded: Image.Image  # RGB, at most DECODE_SIZE
    trimmed_decoded: Image.Image
    width: int
    height: int

    @cached_property
    def untrimmed(self) -> Image.Image:
        return shrink(self.decoded, WORK_SIZE)

    @cached_property
    def trimmed(self) -> Image.Image:
        if not self.was_trimmed:
            return self.untrimmed
        return shrink(self.trimmed_decoded, WORK_SIZE)

    @property
    def was_trimmed(self) -> bool:
        return self.trimmed_decoded is not self.decoded


def load_image(
    data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS
) -> Image.Image:
    """Decode untrusted bytes into a normalized RGB image (oriented, flattened, trimmed)."""
    return decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels).trimmed


def decode_image(
    data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS
) -> DecodedImage:
    """Decode and normalize, keeping the untrimmed framing that registered variants need."""
    _check_size(data, max_bytes)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its two bomb thresholds; a warning must refuse too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image, width, height = _open_and_load(data, max_pixels)
            rgb = shrink(_flatten_to_rgb(image), DECODE_SIZE)
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"image refused as a decompression bomb: {exc}") from exc
    except Exception as exc:  # any codec failure must leave as the one error type
        raise ImageDecodeError(f"image could not be decoded: {_describe(exc)}") from exc
    return DecodedImage(decoded=rgb, trimmed_decoded=trim_borders(rgb), width=width, height=height)


def _check_size(data: bytes, max_bytes: int) -> None:
    if not data:
        raise ImageDecodeError("the file is empty (zero bytes)")
    if len(data) > max_bytes:
        raise ImageDecodeError(f"the file has {len(data)} bytes, over the limit of {max_bytes}")


def _open_and_load(data: bytes, max_pixels: int) -> tuple[Image.Image, int, int]:
    try:
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.UnidentifiedImageError as exc:
        raise ImageDecodeError(_unidentified_message(data)) from exc
    width, height = image.size
    # The header's size is checked before any pixel is decoded.
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"the image declares an empty size {width}x{height}")
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"the image declares {width}x{height} = {width * height} pixels, "
            f"over the limit of {max_pixels}"
        )
    if image.format == "JPEG":
        # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT, to no less than the
        # working size: most of the speed.
        image.draft("RGB", (WORK_SIZE, WORK_SIZE))
    image.load()
    loaded = image.size
    # In place: the image is ours, and a copy of every picture without an orientation cost
    # as much as hashing it with dHash.
    ImageOps.exif_transpose(image, in_place=True)
    if image.size != loaded:
        width, height = height, width
    return image, width, height


def _unidentified_message(data: bytes) -> str:
    allowed = ", ".join(ALLOWED_FORMATS)
    head = data[:64].lstrip()
    for signature, name in _KNOWN_SIGNATURES:
        if head.startswith(signature):
            return f"the file is {name}, not an image in an allowed format ({allowed})"
    if _looks_like_text(data[:512]):
        return f"the file is text, not an image in an allowed format ({allowed})"
    return f"unsupported or unrecognized image format (allowed: {allowed})"


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _describe(exc: Exception) -> str:
    message = str(exc) or type(exc).__name__
    if "truncated" in message or isinstance(exc, EOFError):
        return f"the file is truncated ({message})"
    return message


def _flatten_to_rgb(image: Image.Image) -> Image.Image:
    """Alpha goes onto white: a transparent drawing looks as it does on a white page."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = _eight_bit(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        page = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(page, rgba).convert("RGB")
    # Converting an RGB image would only copy it.
    return image if image.mode == "RGB" else image.convert("RGB")


def _eight_bit(image: Image.Image) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float64)
    top = 65535.0 if pixels.max() > 255 else 255.0
    return Image.fromarray(np.clip(pixels * (255.0 / top), 0, 255).astype(np.uint8), "L")


def shrink(image: Image.Image, size: int = WORK_SIZE) -> Image.Image:
    if max(image.size) <= size:
        return image
    scale = size / max(image.size)
    target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)


def trim_borders(image: Image.Image) -> Image.Image:
    """Remove uniform borders, a pair of opposite sides at a time, equally deep.

    Opposite sides are trimmed together or not at all: an overlay touching one edge
    (a watermark bar in a corner) then leaves the framing as uploaded instead of
    producing a lopsided trim that no registered variant shares. Both sides lose the
    shallower side's border, so a letterbox around a picture whose own edge is dark on one
    side (a night sky, a black letter touching the canvas) comes off exactly. Nested borders
    (a black letterbox around a drawing on white) come off in successive passes.
    """
    box = trim_box(image)
    if box == (0, 0, image.width, image.height):
        return image
    return image.crop(box)


def trim_box(image: Image.Image) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) that `trim_borders` keeps."""
    # Grey levels as they are (uint8): _pair_trim reads them as float64 against a level.
    pixels = np.asarray(image.convert("L"))
    top, bottom, left, right = 0, pixels.shape[0], 0, pixels.shape[1]
    for _ in range(3):
        window = pixels[top:bottom, left:right]
        rows = _pair_trim(window)
        cols = _pair_trim(window.T)
        if rows == (0, 0) and cols == (0, 0):
            break
        top, bottom = top + rows[0], bottom - rows[1]
        left, right = left + cols[0], right - cols[1]
    return left, top, right, bottom


def _pair_trim(grey: np.ndarray) -> tuple[int, int]:
    """How many border rows to take off the top and bottom (both, or neither)."""
    height = grey.shape[0]
    if grey.size == 0:
        return 0, 0  # nothing to trim (a crop of a picture one pixel wide)
    first, last = float(np.median(grey[0])), float(np.median(grey[-1]))
    if abs(first - last) > BORDER_TOLERANCE:
        return 0, 0
    level = (first + last) / 2
    top = _border_depth(grey, level)
    bottom = _border_depth(grey[::-1], level) if top else 0
    if top == 0 or bottom == 0:
        return 0, 0
    # As deep on both sides: a letterbox is as thick at the top as at the bottom, and the
    # picture's own dark (or light) edge on one side must not be taken for more of it.
    top = bottom = min(top, bottom)
    if height - top - bottom < max(2, MIN_CONTENT_SHARE * height):
        return 0, 0
    return top, bottom


def _border_depth(grey: np.ndarray, level: float) -> int:
    """How many rows from the first are border at `level`. Read a block at a time, each
    twice as deep as the one before, until a row is not: most pictures have no border, and
    testing every row of the picture cost as much as the rest of the decoding."""
    depth, block = 0, 8
    while depth < grey.shape[0]:
        rows = grey[depth : depth + block]
        off = (np.abs(rows - level) > BORDER_TOLERANCE).mean(axis=1)
        run = _leading_true(off <= BORDER_OUTLIERS)
        depth += run
        if run < rows.shape[0]:
            break
        block *= 2
    return depth


def _leading_true(flags: np.ndarray) -> int:
    falses = np.flatnonzero(~flags)
    return int(falses[0]) if falses.size else int(flags.size)


def declared_pixels(stream: BinaryIO) -> int:
    """The pixel count an image's header declares, read without decoding a pixel; 0 when the
    header is unreadable (such a file is refused later, when it is decoded). The stream is left
    at its start."""
    try:
        with Image.open(stream, formats=ALLOWED_FORMATS) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return 0
    finally:
        stream.seek(0)
    return max(width, 0) * max(height, 0)
