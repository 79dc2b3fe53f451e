"""Procedural artworks for the demo data and the tests, so the repository ships no images.

Each seed gives a different picture: a gradient ground, overlapping shapes and brush-like strokes,
with enough structure for perceptual hashes to tell the pictures apart.
"""

import io
import random

from PIL import Image, ImageDraw, ImageFilter


def _gradient(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    top = tuple(rng.randrange(256) for _ in range(3))
    bottom = tuple(rng.randrange(256) for _ in range(3))
    column = Image.new("RGB", (1, 256))
    for y in range(256):
        column.putpixel(
            (0, y), tuple(round(t + (b - t) * y / 255) for t, b in zip(top, bottom, strict=True))
        )
    return column.resize(size)


def _color(rng: random.Random) -> tuple[int, int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256), rng.randrange(120, 256))


def _shapes(rng: random.Random, draw: ImageDraw.ImageDraw, size: tuple[int, int]) -> None:
    width, height = size
    for _ in range(rng.randrange(8, 16)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = x0 + rng.randrange(width // 10, width // 2)
        y1 = y0 + rng.randrange(height // 10, height // 2)
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=_color(rng))
        else:
            draw.rectangle((x0, y0, x1, y1), fill=_color(rng))
    for _ in range(rng.randrange(5, 12)):
        points = [(rng.randrange(width), rng.randrange(height)) for _ in range(4)]
        draw.line(points, fill=_color(rng), width=rng.randrange(3, 14), joint="curve")


def artwork(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    rng = random.Random(seed)  # noqa: S311 - pictures, not secrets: the same seed, the same art
    canvas = _gradient(rng, size).convert("RGBA")
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    _shapes(rng, ImageDraw.Draw(layer), size)
    canvas.alpha_composite(layer.filter(ImageFilter.GaussianBlur(1)))
    return canvas.convert("RGB")


def artwork_bytes(seed: int, size: tuple[int, int] = (640, 480), fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    artwork(seed, size).save(buffer, format=fmt, quality=92)
    return buffer.getvalue()
