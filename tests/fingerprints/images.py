"""Test pictures drawn with Pillow: varied enough to hash like real art, small enough to be fast."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont


def painting(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A busy picture: a smooth colour field with random shapes and a little noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / max(size)
    field = np.stack(
        [
            127 + 100 * np.sin(rng.uniform(2, 9) * x + rng.uniform(0, 6) + rng.uniform(1, 5) * y),
            127 + 100 * np.cos(rng.uniform(2, 9) * y + rng.uniform(0, 6)),
            127 + 100 * np.sin(rng.uniform(2, 9) * (x - y) + rng.uniform(0, 6)),
        ],
        axis=2,
    )
    image = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(20, width / 3), rng.uniform(20, height / 3)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
    noise = rng.normal(0, 6, (height, width, 3))
    noisy = np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(noisy, "RGB").filter(ImageFilter.SMOOTH)


def drawing(
    seed: int, size: tuple[int, int] = (300, 300), fill: tuple[int, int, int] | None = None
) -> Image.Image:
    """A line drawing on white, with margins: the kind of clip art that collides.

    `fill` paints every shape in one colour (the same drawing, recoloured).
    """
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    width, height = size
    points = [
        (float(rng.uniform(0.2, 0.8) * width), float(rng.uniform(0.2, 0.8) * height))
        for _ in range(9)
    ]
    draw.line(points, fill=(0, 0, 0), width=6, joint="curve")
    for _ in range(3):
        cx, cy = rng.uniform(0.25, 0.75) * width, rng.uniform(0.25, 0.75) * height
        r = rng.uniform(10, 40)
        colour = fill or tuple(int(c) for c in rng.integers(0, 200, 3))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(0, 0, 0), fill=colour, width=4)
    return image


def badge(
    size: tuple[int, int] = (300, 260), fill: tuple[int, int, int] = (0, 215, 225)
) -> Image.Image:
    """A large flat shape with an outline on white: a template that clip art reuses."""
    image = Image.new("RGB", size, "white")
    width, height = size
    box = (0.1 * width, 0.1 * height, 0.9 * width, 0.9 * height)
    ImageDraw.Draw(image).rounded_rectangle(
        box, radius=0.2 * height, fill=fill, outline=(0, 0, 0), width=6
    )
    return image


def with_mark(image: Image.Image, x: float, y: float, size: float = 0.08) -> Image.Image:
    """A copy with a dark blob (a letter, a logo) placed at (x, y): 0 is one edge, 1 the other."""
    marked = image.copy()
    width, height = marked.size
    side = round(min(width, height) * size)
    left, top = round(x * (width - side)), round(y * (height - side))
    ImageDraw.Draw(marked).ellipse((left, top, left + side, top + side), fill=(20, 20, 20))
    return marked


def in_the_corner(image: Image.Image, what: str, share: float) -> Image.Image:
    """`image` with a disc, a square or another picture over `share` of each side, in the
    bottom right corner (a folder icon's emblem, a picture-in-picture)."""
    out = image.copy()
    width, height = out.size
    box = (round((1 - share) * width), round((1 - share) * height), width, height)
    if what == "picture":
        inset = painting(31).resize((box[2] - box[0], box[3] - box[1]))
        out.paste(inset, box[:2])
    elif what == "disc":
        ImageDraw.Draw(out).ellipse(box, fill=(200, 30, 30), outline=(0, 0, 0), width=4)
    else:
        ImageDraw.Draw(out).rectangle(box, fill=(30, 30, 200), outline=(0, 0, 0), width=4)
    return out


def encode(image: Image.Image, format: str = "JPEG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **params)
    return out.getvalue()


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def post_screenshot(
    picture: Image.Image,
    box: tuple[int, int, int, int] = (20, 240, 520, 615),
    likes: str | None = None,
) -> Image.Image:
    """A phone screenshot of a post on a white page: app bar, author, caption, the picture
    resized into `box`, optionally a line of likes under it, and a row of other pictures'
    thumbnails cut by the bottom of the screen."""
    width, height = 540, 1140
    screen = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, width, 90), fill=(30, 120, 220))
    draw.text((20, 30), "Discover", fill="white", font=font(28))
    draw.ellipse((20, 110, 80, 170), fill=(200, 120, 60))
    draw.text((95, 120), "someone posted", fill="black", font=font(20))
    draw.text((20, 190), "look at this, so true", fill="black", font=font(22))
    left, top, right, bottom = box
    screen.paste(picture.resize((right - left, bottom - top)), (left, top))
    if likes is not None:
        draw.text((20, bottom + 25), likes, fill="black", font=font(22))
    for slot, seed in enumerate((41, 42, 43)):
        screen.paste(painting(seed).resize((160, 160)), (15 + slot * 175, 1000))
    return screen
